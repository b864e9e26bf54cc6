// Public surface of the example CLI, reused by examples/demo and tests.
export { runCli, USAGE } from './cli.js';
export { processIO, memoryIO, CommandError } from './io.js';
export type { CliIO } from './io.js';
export { parseArgs, UsageError } from './args.js';
export type { FlagSpec, ParsedArgs } from './args.js';
export { connect, loadConfig, DEFAULT_CONFIG_PATH } from './connect.js';
export type { Connection, ConnectOptions } from './connect.js';
export { formatGoG5, formatGoF0, formatCountWithPercent, formatBoxTable, formatTabTable } from './format.js';
export type { Alignment } from './format.js';
export { formatIpamShow, formatIpamShowIP, formatIpamConfiguration } from './ipam-format.js';
export { CLI_KINDS, lookupKind, cliKind, tableRows } from './kinds.js';
export type { CliKind, ColumnContext } from './kinds.js';
export { renderUtilizationHtml, hostColor } from './html.js';
export type { UtilizationPage, BlockPicture } from './html.js';
export { parseCheckReport, formatAddressOwner } from './commands/ipam.js';
export type { CalicoctlCheckReport } from './commands/ipam.js';
export { processCommandLines } from './commands/node.js';
export { CLI_VERSION } from './version.js';
