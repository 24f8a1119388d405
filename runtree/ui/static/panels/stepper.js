// A step slider over the steps a key has values at; a fork's inherited steps (at or before its fork step) are
// labelled as the parent's. onChange(index) draws the value at that step.

import { h } from '../dom.js';

export function stepper(steps, run, onChange) {
  const inherited = (step) => run.parent_uid && run.fork_step !== null && run.fork_step !== undefined && step <= run.fork_step;
  const label = h('span.step-label', { 'data-testid': 'step-label' });
  const slider = h('input.step-slider', { type: 'range', min: 0, max: Math.max(0, steps.length - 1), value: Math.max(0, steps.length - 1), 'aria-label': 'step' });
  const show = () => {
    const i = Number(slider.value);
    const step = steps[i];
    label.textContent = `_step ${step}${inherited(step) ? ' · inherited from the parent' : ''}`;
    label.classList.toggle('inherited', Boolean(inherited(step)));
    onChange(i);
  };
  slider.addEventListener('input', show);
  slider.hidden = steps.length < 2; // one step: nothing to slide
  const el = h('div.stepper', slider, label, h('span.muted.small', `${steps.length} step${steps.length === 1 ? '' : 's'}`));
  return { el, show, slider };
}
