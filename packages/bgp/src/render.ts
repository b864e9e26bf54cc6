/**
 * The renderer entry points.
 */
import { ValidationError } from '@libcalico-ts/api';
import { buildModels } from './model.js';
import { renderAggr, renderIpam, renderMain } from './templates.js';
import type { BirdConfigFiles, BirdConfigWarning, RenderBirdConfigOptions, RenderBirdConfigResult } from './types.js';

/**
 * Renders the six BIRD files for one node, like confd does, and returns them with the list of
 * things that were left out (see {@link BirdConfigWarning}).
 *
 * Pure: no I/O, no environment access; everything comes from `options`.
 *
 * @throws ResourceNotFoundError when `nodeName` has no Node resource (confd cannot render then).
 * @throws ValidationError for values confd's datastore would never accept: AS numbers outside
 *   0..4294967295, listen ports outside 1..65535, bad durations, route priorities out of range,
 *   malformed BGPFilter rules. Nothing is returned in that case.
 * @throws OperationNotSupportedError with `dialect: 'bird2'` when BIRD must program IPIP routes.
 */
export function renderBirdConfigWithWarnings(options: RenderBirdConfigOptions): RenderBirdConfigResult {
  if (typeof options !== 'object' || options === null) {
    throw new ValidationError([{ name: 'options', value: options, reason: 'must be an object' }]);
  }
  const dialect = options.dialect ?? 'calico';
  if (dialect !== 'calico' && dialect !== 'bird2') {
    throw new ValidationError([{ name: 'dialect', value: dialect, reason: "must be 'calico' or 'bird2'" }]);
  }
  const warnings: BirdConfigWarning[] = [];
  const warn = (w: BirdConfigWarning) => {
    warnings.push(w);
    options.onWarning?.(w);
  };
  const [v4, v6] = buildModels(options, warn);
  const files: BirdConfigFiles = {
    'bird.cfg': renderMain(v4, dialect),
    'bird6.cfg': renderMain(v6, dialect),
    'bird_ipam.cfg': renderIpam(v4, dialect),
    'bird6_ipam.cfg': renderIpam(v6, dialect),
    'bird_aggr.cfg': renderAggr(v4, dialect),
    'bird6_aggr.cfg': renderAggr(v6, dialect),
  };
  return { files, warnings };
}

/**
 * Renders the six BIRD files for one node (confd's output): `bird.cfg`, `bird6.cfg`,
 * `bird_ipam.cfg`, `bird6_ipam.cfg`, `bird_aggr.cfg`, `bird6_aggr.cfg`.
 *
 * Warnings (skipped peers, unparsable selectors...) go to `options.onWarning` if given; use
 * {@link renderBirdConfigWithWarnings} to get them back as a list. Throws as that function does.
 *
 * @example
 * ```ts
 * const files = renderBirdConfig({ nodeName: 'node-1', resources, blockAffinities });
 * await writeFile('/etc/calico/confd/config/bird.cfg', files['bird.cfg']);
 * ```
 */
export function renderBirdConfig(options: RenderBirdConfigOptions): BirdConfigFiles {
  return renderBirdConfigWithWarnings(options).files;
}

/**
 * Normalises BIRD text as confd's golden tests compare it: lines that are empty or only
 * whitespace are dropped and the text ends with exactly one newline.
 */
export function normalizeBirdConfig(text: string): string {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  return lines.join('\n') + '\n';
}
