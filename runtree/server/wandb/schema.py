"""The part of W&B's GraphQL schema that runtree serves, as SDL: what the wandb client (0.31) asks for a run.

Names and types follow W&B's API as the client's own operations use them (UpsertBucket, RewindRun,
RunResumeStatus, CreateRunFiles, ...), so those operations validate unchanged; any other operation is
refused by graphql-core's validation with a GraphQL error naming the unknown field.
"""

from __future__ import annotations

from graphql import GraphQLSchema, build_schema

SDL = """
"JSON encoded as a string, as W&B's API passes configs, summaries and history lines."
scalar JSONString

"Any JSON value."
scalar JSON

"A 64-bit integer (history steps)."
scalar Int64

"Time as W&B writes it (ISO 8601, UTC, no zone)."
scalar DateTime

type Query {
  "The caller: the API key's default entity and the others it may use."
  viewer: User
  serverInfo: ServerInfo
  "A project by name in an entity (the caller's default entity when none is named)."
  model(name: String, entityName: String): Project
  project(name: String, entityName: String): Project
  entity(name: String!): Entity
  "Projects of an entity (the caller's default one when none is named), newest activity first."
  models(entityName: String, after: String, first: Int, order: String, anonymous: Boolean): ProjectConnection
  projects(entityName: String, after: String, first: Int, order: String, anonymous: Boolean): ProjectConnection
  "A run by entity/project/name (older clients)."
  run(entityName: String, projectName: String, name: String!): Run
}

type Mutation {
  "Create a run, or update one (config, tags, name, ...); a `_wandb.branch_point` in a new run's config forks it."
  upsertBucket(input: UpsertBucketInput!): UpsertBucketPayload
  "Rewind a run to a step: its history cut there, the rest archived, logging goes on at the next step."
  rewindRun(input: RewindRunInput!): RewindRunPayload
  "Signed upload URLs for run files: PUT the bytes there, without an Authorization header."
  createRunFiles(input: CreateRunFilesInput!): CreateRunFilesPayload
  markRunFilesUploaded(input: MarkRunFilesUploadedInput!): MarkRunFilesUploadedPayload
  "Always refused, with a message: runtree does not store W&B artifacts."
  createArtifact(input: CreateArtifactInput!): CreateArtifactPayload
}

type User {
  id: ID!
  name: String
  username: String
  email: String
  entity: String
  admin: Boolean
  flags: JSONString
  teams: EntityConnection
  deletedAt: DateTime
  "runtree never hands keys out over GraphQL: always empty."
  apiKeys: ApiKeyConnection
  defaultEntity: Entity
  userEntity: Entity
  photoUrl: String
}

type ApiKeyConnection {
  edges: [ApiKeyEdge!]!
}

type ApiKeyEdge {
  node: ApiKey
}

type ApiKey {
  id: ID!
  name: String!
  description: String
}

type PageInfo {
  startCursor: String
  endCursor: String
  hasNextPage: Boolean!
  hasPreviousPage: Boolean!
}

type ProjectConnection {
  edges: [ProjectEdge!]!
  pageInfo: PageInfo!
}

type ProjectEdge {
  node: Project
  cursor: String
}

type RunConnection {
  edges: [RunEdge!]!
  pageInfo: PageInfo!
  totalCount: Int
}

type RunEdge {
  node: Run
  cursor: String
}

type FileConnection {
  edges: [FileEdge!]!
  pageInfo: PageInfo!
}

type FileEdge {
  node: File
  cursor: String
}

"A run file; `url` downloads it with the caller's key (HTTP Basic api:<key>)."
type File {
  id: ID!
  name: String!
  url(upload: Boolean): String
  directUrl: String
  sizeBytes: Int64
  mimetype: String
  updatedAt: DateTime
  md5: String
  digest: String
}

type EntityConnection {
  edges: [EntityEdge!]!
}

type EntityEdge {
  node: Entity
}

type Entity {
  id: ID!
  name: String!
  organization: Organization
  isTeam: Boolean
  defaultAccess: String
  readOnly: Boolean
  projects(after: String, first: Int, order: String): ProjectConnection
}

type Organization {
  id: ID!
  name: String
  coreWeaveOrganizationId: String
  orgEntity: Entity
}

type ServerInfo {
  features: [ServerFeature!]!
  cliVersionInfo: JSON
  latestLocalVersionInfo: LocalVersionInfo
}

type ServerFeature {
  name: String!
  isEnabled: Boolean!
}

type LocalVersionInfo {
  outOfDate: Boolean!
  latestVersionString: String!
  versionOnThisInstanceString: String!
}

type Project {
  id: ID!
  name: String!
  entityName: String!
  entity: Entity!
  "The run `name`; null when missing and missingOk."
  bucket(name: String!, missingOk: Boolean): Run
  run(name: String!): Run
  "A number standing for the project (runtree keys projects by name)."
  internalId: ID
  createdAt: DateTime
  isBenchmark: Boolean
  readOnly: Boolean
  description: String
  user: User
  "Runs matching a W&B filter (MongoDB-style JSON), counted in the database."
  runCount(filters: JSONString): Int
  "One page of runs matching a W&B filter, in `order` (`-created_at` when none); `after` is the last page's endCursor."
  runs(filters: JSONString, after: String, first: Int, order: String): RunConnection
  "runtree serves no artifacts: always null (the client then uploads media files as run files)."
  artifact(name: String!): Artifact
  artifactType(name: String!): ArtifactType
}

"Never returned by runtree (artifacts are not served)."
type Artifact {
  id: ID!
  artifactType: ArtifactType!
}

"Never returned by runtree (artifacts are not served)."
type ArtifactType {
  id: ID!
  name: String!
}

"A run (W&B also calls it a bucket). `id` is runtree's immutable uid, `name` the run id."
type Run {
  id: ID!
  name: String!
  displayName: String
  description: String
  notes: String
  state: String
  stopped: Boolean
  config: JSONString
  summaryMetrics: JSONString
  "The `_wandb` config entries named by `keys` (all of them without keys), as JSON."
  wandbConfig(keys: [String!]): JSONString
  sweepName: String
  tags: [String!]!
  group: String
  jobType: String
  host: String
  createdAt: String
  heartbeatAt: String
  project: Project
  "The next history line number: one past the last visible step (0 without history)."
  historyLineCount: Int
  "The next console line number of the run's current epoch."
  logLineCount: Int
  eventsLineCount: Int
  "JSON list of the last history row as a JSON string."
  historyTail: JSONString
  eventsTail: JSONString
  "The project's internalId."
  projectId: ID
  commit: String
  readOnly: Boolean
  "Always {}: each run of a page asks for it, and it would cost a scan of the run's samples (use events)."
  systemMetrics: JSONString
  user: User
  "{lastStep, keys: {key: {typeCounts: [{type, count}]}}} from the summary (cheap: no history scan)."
  historyKeys: JSON
  "Per spec {keys: [...], samples: N}: the rows holding every key (only those keys), evenly sampled to N."
  sampledHistory(specs: [JSONString!]!): [JSON]
  "Visible rows as JSON strings, in step order: steps minStep <= s < maxStep, evenly sampled to `samples`."
  history(samples: Int, minStep: Int64, maxStep: Int64): [String]
  "System-metrics samples as JSON strings, evenly sampled to `samples`."
  events(samples: Int): [String]
  "What wandb-core's scan_history reads: no parquet exports, every visible row as live data (only liveKeys, with _step)."
  parquetHistory(liveKeys: [String!]!): ParquetHistory
  fileCount: Int
  files(names: [String], after: String, first: Int, pattern: String): FileConnection
  summary: JSONString
  runInfo: RunInfo
  sweep: Sweep
  displayNameEdited: Boolean
  exitcode: Int
  "W&B's 'not available' shape: runtree serves no artifacts, the connections are empty."
  outputArtifacts(after: String, first: Int): ArtifactConnection
  inputArtifacts(after: String, first: Int): ArtifactConnection
}

"Only so that clients can introspect it: runtree refuses createArtifact with a message (artifacts are not stored)."
input CreateArtifactInput {
  artifactTypeName: String!
  artifactCollectionName: String
  artifactCollectionNames: [String!]
  entityName: String
  projectName: String
  runName: String
  description: String
  digest: String
  digestAlgorithm: String
  labels: JSONString
  aliases: [String!]
  metadata: JSONString
  ttlDurationSeconds: Int64
  tags: [String!]
  clientID: ID
  sequenceClientID: ID
  enableDigestDeduplication: Boolean
  historyStep: Int64
  distributedID: String
  storageRegion: String
}

type CreateArtifactPayload {
  artifact: Artifact
}

type ArtifactConnection {
  totalCount: Int!
  edges: [ArtifactEdge!]!
  pageInfo: PageInfo!
}

type ArtifactEdge {
  node: Artifact
  cursor: String
}

type ParquetHistory {
  parquetUrls: [String!]!
  liveData: [JSON!]!
}

type RunInfo {
  program: String
  args: [String]
  os: String
  python: String
  gpuCount: Int
  gpu: String
}

"Never returned by runtree (sweeps are not served)."
type Sweep {
  id: ID!
  name: String!
}

input UpsertBucketInput {
  id: String
  name: String
  groupName: String
  modelName: String
  entityName: String
  description: String
  displayName: String
  notes: String
  commit: String
  config: JSONString
  host: String
  debug: Boolean
  program: String
  jobProgram: String
  repo: String
  jobRepo: String
  jobType: String
  state: String
  sweep: String
  tags: [String!]
  summaryMetrics: JSONString
  "Ignored: runtree derives a run's state from its data."
  stopped: Boolean
}

type UpsertBucketPayload {
  bucket: Run
  inserted: Boolean
  "Messages for the client to print: runtree has none."
  serverSettings: ServerSettings
}

"wandb 0.17 probes this type by introspection (and fails when it is missing)."
type ServerSettings {
  serverMessages: [ServerMessage!]!
}

type ServerMessage {
  utfText: String
  plainText: String
  htmlText: String
  messageType: String
  messageLevel: String
}

input RewindRunInput {
  runName: String!
  entityName: String
  projectName: String
  metricName: String!
  metricValue: Float!
}

type RewindRunPayload {
  rewoundRun: Run
}

input CreateRunFilesInput {
  entityName: String!
  projectName: String!
  runName: String!
  files: [String!]!
}

type CreateRunFilesPayload {
  runID: ID!
  uploadHeaders: [String!]!
  files: [RunFile!]!
}

type RunFile {
  name: String!
  uploadUrl: String
}

input MarkRunFilesUploadedInput {
  entityName: String!
  projectName: String!
  runName: String!
  files: [String!]!
}

type MarkRunFilesUploadedPayload {
  success: Boolean!
}
"""


def build() -> GraphQLSchema:
    """The executable schema (resolvers are attached by runtree.server.wandb.graphql)."""
    return build_schema(SDL)
