/**
 * Worker program of {@link NetnsSession}. It is started already inside the target network namespace
 * (`nsenter --net=PATH node netns-worker.js`), opens its own rtnetlink socket there and serves
 * JSON-line requests on stdin, answering on stdout. It exits when stdin closes.
 * @internal
 */
import { createInterface } from 'node:readline';
import { NetlinkClient } from './netlink/client.js';
import { configureContainerSide, type ContainerSideConfig } from './container-side.js';
import { serializeError, type RpcRequest } from './rpc.js';

const client = new NetlinkClient();

const extensions: Record<string, (...args: never[]) => Promise<unknown>> = {
  configureContainerSide: (config: ContainerSideConfig) => configureContainerSide(client, config),
  ping: async () => ({ pid: process.pid }),
};

const methods = new Set([
  'listLinks', 'findLink', 'getLink', 'createVethPair', 'createVxlan', 'createIpip', 'createDummy', 'setLinkUp', 'setLinkDown',
  'setLinkMtu', 'setLinkMac', 'renameLink', 'moveLinkToNetns', 'deleteLink', 'listAddresses', 'addAddress', 'deleteAddress',
  'listRoutes', 'replaceRoute', 'addRoute', 'deleteRoute', 'applyRouteChanges', 'reconcileRoutes', 'listNeighbours',
  'replaceNeighbour', 'deleteNeighbour', 'listFdb', 'replaceFdb', 'deleteFdb', 'readSysctl', 'writeSysctl',
]);

function reply(message: unknown): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

async function handle(request: RpcRequest): Promise<void> {
  try {
    let result: unknown;
    const ext = extensions[request.method];
    if (ext) result = await (ext as (...a: unknown[]) => Promise<unknown>)(...request.args);
    else if (methods.has(request.method)) {
      const fn = (client as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[request.method]!;
      result = await fn.apply(client, request.args);
    } else throw new Error(`unknown method ${request.method}`);
    reply({ id: request.id, result: result === undefined ? null : result });
  } catch (error) {
    reply({ id: request.id, error: serializeError(error) });
  }
}

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on('line', (line) => {
  if (!line.trim()) return;
  let request: RpcRequest;
  try {
    request = JSON.parse(line) as RpcRequest;
  } catch (error) {
    reply({ id: -1, error: serializeError(error) });
    return;
  }
  void handle(request);
});
lines.on('close', () => {
  void client.close().finally(() => process.exit(0));
});
reply({ ready: true, pid: process.pid });
