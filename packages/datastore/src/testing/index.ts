// Test helpers of datastore.
export {};
