/**
 * Node selector matching for BGPPeer `nodeSelector` / `peerSelector`, through
 * `@libcalico-ts/selector` (Calico's selector language).
 */
import { parseSelector } from '@libcalico-ts/selector';

/**
 * Compiles a Calico selector into a label matcher.
 * @throws SelectorParseError when `text` is not a valid selector.
 */
export function compileNodeSelector(text: string): (labels: Record<string, string>) => boolean {
  const selector = parseSelector(text);
  return (labels) => selector.matches(labels);
}
