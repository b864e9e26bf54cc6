// Public surface of @libcalico-ts/selector.
export {
  Selector,
  parseSelector,
  tryParseSelector,
  validateSelector,
  isValidSelector,
  normaliseSelector,
  isValidLabelKey,
  selectorFromAst,
  matchAllSelector,
  matchNothingSelector,
} from './selector.js';
export type { Labels } from './selector.js';
export { SelectorParseError } from './errors.js';
export { isPossibleToSatisfy } from './restrictions.js';
export type { LabelRestriction } from './restrictions.js';
export { printSelector, compareByteOrder } from './ast.js';
export type {
  SelectorNode,
  SelectorNodeKind,
  AllNode,
  GlobalNode,
  HasNode,
  LabelValueNode,
  LabelSetNode,
  NotNode,
  AndNode,
  OrNode,
} from './ast.js';
export { tokenize, TokenKind, MAX_LABEL_LENGTH } from './tokenizer.js';
export type { Token } from './tokenizer.js';
