// Public surface of @libcalico-ts/selector.
export {};
