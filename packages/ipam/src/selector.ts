/**
 * Pool node/namespace selector evaluation through `@libcalico-ts/selector`, with parsed
 * selectors cached by text. Internal.
 */
import { parseSelector } from '@libcalico-ts/selector';

type Matcher = (labels: Record<string, string>) => boolean;

const cache = new Map<string, Matcher>();
const ALL: Matcher = () => true;

/**
 * True when `selector` (empty = all) matches `labels`. A syntax error throws the selector
 * package's `SelectorParseError` (returned to the caller, as upstream).
 */
export function selectorMatches(selector: string | undefined, labels: Record<string, string>): boolean {
  const text = (selector ?? '').trim();
  let matcher = cache.get(text);
  if (!matcher) {
    matcher = text === '' || text === 'all()' ? ALL : parseSelector(text).matches;
    if (cache.size > 10_000) cache.clear();
    cache.set(text, matcher);
  }
  return matcher(labels);
}
