// Public surface of @libcalico-ts/client.
export {};
