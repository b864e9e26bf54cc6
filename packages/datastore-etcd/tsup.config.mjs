import { packageConfig } from '../../tsup.base.mjs';

export default packageConfig({ index: 'src/index.ts', gateway: 'src/gateway.ts' });
