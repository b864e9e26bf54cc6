import { packageConfig } from '../../tsup.base.mjs';

// The netns worker is a separate entry: NetnsSession starts it (as dist/netns-worker.{js,cjs}) inside
// the target namespace. `shims` gives the CommonJS build an import.meta.url to locate it.
const config = packageConfig({ index: 'src/index.ts', 'netns-worker': 'src/netns-worker.ts' });
export default { ...config, shims: true };
