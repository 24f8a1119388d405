"""Pure rules of runtree: records, ids, lineage, fork specs, steps, summaries. No I/O, threads or clocks."""
