// Public surface of @libcalico-ts/routes.
export {};
