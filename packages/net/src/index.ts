// Public surface of @libcalico-ts/net.
export {};
