import { packageConfig } from '../../tsup.base.mjs';

export default packageConfig({ index: 'src/index.ts', 'status-node': 'src/status-node.ts' });
