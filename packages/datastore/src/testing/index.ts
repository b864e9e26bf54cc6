// Test helpers of @libcalico-ts/datastore: the conformance suite every backend runs.
export { describeDatastoreConformance, describeEachDatastore } from './conformance.js';
export type { ConformanceOptions, DatastoreFactory, DatastoreUnderTest, NamedDatastoreFactory } from './conformance.js';
