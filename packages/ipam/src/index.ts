// Public surface of @libcalico-ts/ipam.
export {};
