/**
 * Pool node/namespace selector evaluation through `@libcalico-ts/selector`, with parsed
 * selectors cached by text. Internal.
 */
import * as selectorPackage from '@libcalico-ts/selector';
import { ValidationError } from '@libcalico-ts/api';

type Matcher = (labels: Record<string, string>) => boolean;

const cache = new Map<string, Matcher>();
const ALL: Matcher = () => true;

interface SelectorApi {
  parseSelector?: (text: string) => unknown;
}

function compile(text: string): Matcher {
  const trimmed = text.trim();
  if (trimmed === '' || trimmed === 'all()') return ALL;
  const api = selectorPackage as unknown as SelectorApi;
  if (typeof api.parseSelector !== 'function') {
    throw new ValidationError([{ name: 'selector', value: text, reason: '@libcalico-ts/selector does not provide parseSelector' }]);
  }
  const parsed = api.parseSelector(trimmed) as { matches?: (labels: Record<string, string>) => boolean } | ((l: Record<string, string>) => boolean);
  if (typeof parsed === 'function') return parsed;
  if (parsed && typeof parsed.matches === 'function') return (labels) => parsed.matches!(labels);
  throw new ValidationError([{ name: 'selector', value: text, reason: 'unexpected selector API shape' }]);
}

/** True when `selector` (empty = all) matches `labels`. Throws the selector package's parse error for bad syntax. */
export function selectorMatches(selector: string | undefined, labels: Record<string, string>): boolean {
  const text = selector ?? '';
  let matcher = cache.get(text);
  if (!matcher) {
    matcher = compile(text);
    if (cache.size > 10_000) cache.clear();
    cache.set(text, matcher);
  }
  return matcher(labels);
}
