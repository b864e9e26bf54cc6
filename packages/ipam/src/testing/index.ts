// Test helpers of ipam.
export {};
