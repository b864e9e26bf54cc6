// Child process of the lazy-loading test and benchmark: imports the client, builds a client from
// the environment, makes one request, and prints what happened as one JSON line.
// `performance.now()` counts from the start of this process.
const startedAt = performance.now();
try {
  const { createClientFromEnv } = await import('@libcalico-ts/client');
  const imported = performance.now();
  const client = await createClientFromEnv(process.env, { poolDeletionDelayMs: 0 });
  const created = performance.now();
  await client.ipPools.list();
  const listed = performance.now();
  await client.close();
  console.log(JSON.stringify({ ok: true, datastoreType: client.datastore.datastoreType, startedAt, imported, created, listed }));
} catch (error) {
  console.log(JSON.stringify({ ok: false, name: error?.name, message: String(error?.message ?? error) }));
}
