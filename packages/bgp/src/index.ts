// Public surface of @libcalico-ts/bgp.
export {};
