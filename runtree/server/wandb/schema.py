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

type Query {
  "The caller: the API key's default entity and the others it may use."
  viewer: User
  serverInfo: ServerInfo
  "A project by name in an entity (the caller's default entity when none is named)."
  model(name: String, entityName: String): Project
  project(name: String, entityName: String): Project
  entity(name: String!): Entity
}

type Mutation {
  "Create a run, or update one (config, tags, name, ...); a `_wandb.branch_point` in a new run's config forks it."
  upsertBucket(input: UpsertBucketInput!): UpsertBucketPayload
  "Rewind a run to a step: its history cut there, the rest archived, logging goes on at the next step."
  rewindRun(input: RewindRunInput!): RewindRunPayload
  "Signed upload URLs for run files: PUT the bytes there, without an Authorization header."
  createRunFiles(input: CreateRunFilesInput!): CreateRunFilesPayload
  markRunFilesUploaded(input: MarkRunFilesUploadedInput!): MarkRunFilesUploadedPayload
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
}

type UpsertBucketPayload {
  bucket: Run
  inserted: Boolean
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
