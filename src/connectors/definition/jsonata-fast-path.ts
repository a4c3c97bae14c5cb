/**
 * A synchronous evaluator for the part of JSONata that provider mappings use, compiled from the AST
 * the `jsonata` package parses. The package evaluates every node through an async function, which at
 * 100,000 users a sync is most of a full run's CPU; these closures give the same values for the same
 * input at a small fraction of the cost.
 *
 * It is a fast path, never the reference: the package stays the definition of the language.
 * - `compileFastPath` answers undefined for any expression using a construct not handled here (regex,
 *   wildcards, sorting, tuple paths, partial application, numeric operators, functions not listed in
 *   BUILT_INS), and the package evaluates it.
 * - At run time, any case not handled exactly (a type the package would reject or coerce in a way not
 *   mirrored here, a function value where data is expected) throws `DECLINED`, and the caller
 *   evaluates that item with the package. So errors always come from the package, with its wording.
 *
 * The functions below follow the package's evaluation rules step for step (sequences, singleton
 * collapse, flattening of path steps, predicate filters, object grouping, argument signatures), so
 * the fast path's output equals the package's; test/jsonata-fast-path.test.ts checks that on every
 * shipped mapping and on expressions written to hit each rule.
 */

/** Thrown when an item needs the package's evaluator: nothing is wrong with the item or the mapping. */
export const DECLINED: unique symbol = Symbol('jsonata fast path declined');

export type FastEvaluator = (input: unknown) => unknown;

type Sequence = unknown[] & { sequence?: boolean; keepSingleton?: boolean; cons?: boolean };
type Evaluate = (input: unknown, frame: Frame) => unknown;
type Ast = Record<string, any>;

class Frame {
  private readonly bindings = new Map<string, unknown>();
  constructor(private readonly parent: Frame | undefined) {}
  bind(name: string, value: unknown): void {
    this.bindings.set(name, value);
  }
  lookup(name: string): unknown {
    for (let frame: Frame | undefined = this; frame !== undefined; frame = frame.parent) {
      if (frame.bindings.has(name)) return frame.bindings.get(name);
    }
    return BUILT_INS.get(name);
  }
}

/** A lambda as a value: its parameters, compiled body, and the input and frame it closed over. */
class Lambda {
  constructor(
    readonly params: string[],
    readonly body: Evaluate,
    readonly input: unknown,
    readonly frame: Frame,
  ) {}
  /** The call's value, after any tail calls its body left (the package's trampoline). */
  call(args: unknown[]): unknown {
    let result = this.enter(args);
    while (result instanceof TailCall) result = result.run();
    return result;
  }
  /** The body's value, which may be a tail call still to make. */
  enter(args: unknown[]): unknown {
    const frame = new Frame(this.frame);
    for (let i = 0; i < this.params.length; i++) frame.bind(this.params[i]!, args[i]);
    return this.body(this.input, frame);
  }
}

/**
 * A call in a lambda's tail position, made by the lambda's caller. Its value is not post-processed as
 * an evaluated node's would be (a sequence of one stays a sequence), exactly as in the package.
 */
class TailCall {
  constructor(
    readonly name: string,
    readonly args: Evaluate[],
    readonly input: unknown,
    readonly frame: Frame,
  ) {}
  run(): unknown {
    const fn = this.frame.lookup(this.name);
    const values = this.args.map((arg) => arg(this.input, this.frame));
    if (fn instanceof Lambda) return fn.enter(values);
    return invoke(fn, values);
  }
}

class BuiltIn {
  constructor(
    readonly name: string,
    readonly call: (args: unknown[]) => unknown,
    /** How many arguments a call must pass (the fast path never substitutes the context for one). */
    readonly arities: readonly number[],
  ) {}
}

class Unsupported extends Error {}

/** The evaluator for `ast`, or undefined when the expression uses anything the fast path leaves to the package. */
export function compileFastPath(ast: unknown): FastEvaluator | undefined {
  let body: Evaluate;
  try {
    body = compile(ast as Ast, boundNames(ast));
  } catch {
    // Unsupported, or an AST shape this compiler does not expect: either way the package evaluates it.
    return undefined;
  }
  return (input) => {
    // The package wraps an array input in an outer sequence; mappings take objects, so that case is its own.
    if (Array.isArray(input)) throw DECLINED;
    const root = new Frame(undefined);
    root.bind('$', input);
    return body(input, root);
  };
}

// ---------------------------------------------------------------------------------------------------
// Compilation: one closure per node, with the package's post-processing of every evaluated node.

const NODE_KEYS_NOT_HANDLED = ['group', 'tuple', 'focus', 'index', 'ancestor', 'keepSingletonArray', 'seekingParent', 'signature'];

function compile(node: Ast, bound: ReadonlySet<string>): Evaluate {
  for (const key of NODE_KEYS_NOT_HANDLED) if (node[key] !== undefined) throw new Unsupported(key);
  let evaluate = compileNode(node, bound);
  if (node.predicate !== undefined) {
    const filters = (node.predicate as Ast[]).map((stage) => compileFilter(stage, bound));
    const inner = evaluate;
    evaluate = (input, frame) => {
      let result = inner(input, frame);
      for (const filter of filters) result = filter(result, frame);
      return result;
    };
  }
  const keepArray = node.keepArray === true;
  const inner = evaluate;
  return (input, frame) => normalize(inner(input, frame), keepArray);
}

/** A sequence of one is its item, an empty one nothing; arrays from the input are left alone. */
function normalize(result: unknown, keepArray: boolean): unknown {
  if (result && isSequence(result)) {
    if (keepArray) result.keepSingleton = true;
    if (result.length === 0) return undefined;
    if (result.length === 1) return result.keepSingleton ? result : result[0];
  }
  return result;
}

function compileNode(node: Ast, bound: ReadonlySet<string>): Evaluate {
  switch (node.type) {
    case 'path':
      return compilePath(node, bound);
    case 'name': {
      const key = node.value as string;
      return (input) => lookup(input, key);
    }
    case 'string':
    case 'number':
    case 'value': {
      const value = node.value;
      return () => value;
    }
    case 'variable': {
      const name = node.value as string;
      if (name === '') return (input) => input;
      // A free variable is one of the package's functions, passed as a value: the package's case.
      if (!bound.has(name)) throw new Unsupported(`$${name}`);
      return (_input, frame) => frame.lookup(name);
    }
    case 'binary':
      return compileBinary(node, bound);
    case 'unary':
      if (node.value === '[') return compileArray(node, bound);
      if (node.value === '{') return compileObject(node.lhs as Ast[][], bound);
      throw new Unsupported(`unary ${node.value}`);
    case 'condition': {
      const condition = compile(node.condition, bound);
      const then = compile(node.then, bound);
      const otherwise = node.else === undefined ? undefined : compile(node.else, bound);
      return (input, frame) => {
        if (boolean(condition(input, frame))) return then(input, frame);
        return otherwise?.(input, frame);
      };
    }
    case 'block': {
      const expressions = (node.expressions as Ast[]).map((expression) => compile(expression, bound));
      return (input, frame) => {
        const scope = new Frame(frame);
        let result: unknown;
        for (const expression of expressions) result = expression(input, scope);
        return result;
      };
    }
    case 'bind': {
      if (node.lhs?.type !== 'variable') throw new Unsupported('bind target');
      const name = node.lhs.value as string;
      const value = compile(node.rhs, bound);
      return (input, frame) => {
        const result = value(input, frame);
        frame.bind(name, result);
        return result;
      };
    }
    case 'lambda': {
      if (node.thunk === true) {
        // A tail call the parser wrapped for its trampoline: the lambda's caller makes it.
        const call = node.body as Ast;
        const args = compileCallArgs(call, bound, 0);
        const name = call.procedure.value as string;
        return (input, frame) => new TailCall(name, args, input, frame);
      }
      const params = (node.arguments as Ast[]).map((param) => param.value as string);
      const body = compile(node.body, bound);
      return (input, frame) => new Lambda(params, body, input, frame);
    }
    case 'function':
      return compileCall(node, bound, undefined);
    case 'apply': {
      if (node.rhs?.type !== 'function') throw new Unsupported('apply to a non-call');
      const lhs = compile(node.lhs, bound);
      return compileCall(node.rhs, bound, lhs);
    }
    default:
      throw new Unsupported(String(node.type));
  }
}

function compilePath(node: Ast, bound: ReadonlySet<string>): Evaluate {
  const steps = node.steps as Ast[];
  const firstIsVariable = steps[0]?.type === 'variable';
  const compiled = steps.map((step, index) => {
    if (step.type === 'sort' || step.type === 'parent') throw new Unsupported(step.type);
    const evaluate = compile(step, bound);
    if (index === 0 && step.consarray) return { consarray: true as const, evaluate, stages: [] };
    const stages = ((step.stages as Ast[] | undefined) ?? []).map((stage) => {
      if (stage.type !== 'filter') throw new Unsupported(`stage ${stage.type}`);
      return compileFilter(stage, bound);
    });
    return { consarray: false as const, evaluate, stages };
  });
  const general: Evaluate = (input, frame) => {
    let inputSequence: unknown = Array.isArray(input) && !firstIsVariable ? input : sequenceOf(input);
    let resultSequence: any;
    for (let index = 0; index < compiled.length; index++) {
      const step = compiled[index]!;
      if (step.consarray) resultSequence = step.evaluate(inputSequence, frame);
      else resultSequence = evaluateStep(step.evaluate, step.stages, inputSequence as ArrayLike<unknown>, frame, index === compiled.length - 1);
      if (resultSequence === undefined || resultSequence.length === 0) break;
      inputSequence = resultSequence;
    }
    return resultSequence;
  };
  // The paths mappings are mostly made of: field names only (`name.givenName`). Walked from one object
  // to the next, such a path ends in the value the steps above would collapse to; at the first array
  // (or anything the package made) the steps above evaluate it from the start instead.
  const names = steps.every((step) => step.type === 'name' && isPlainStep(step)) && node.keepArray !== true ? steps.map((step) => step.value as string) : undefined;
  if (names === undefined) return general;
  return (input, frame) => {
    let value = input;
    for (const name of names) {
      if (Array.isArray(value)) return general(input, frame);
      value = lookup(value, name);
      if (value === undefined) return undefined;
    }
    return isSequence(value) ? general(input, frame) : value;
  };
}

/** A step with nothing but its own evaluation: no stages, predicates, flags or annotations. */
function isPlainStep(step: Ast): boolean {
  return step.stages === undefined && step.predicate === undefined && step.keepArray !== true && step.consarray !== true && NODE_KEYS_NOT_HANDLED.every((key) => step[key] === undefined);
}

type Filter = (input: unknown, frame: Frame) => unknown;

function evaluateStep(evaluate: Evaluate, stages: Filter[], input: ArrayLike<unknown>, frame: Frame, lastStep: boolean): Sequence {
  const result = sequenceOf();
  let nested = false;
  for (let i = 0; i < input.length; i++) {
    let value = evaluate(input[i], frame);
    for (const stage of stages) value = stage(value, frame);
    if (value === undefined) continue;
    result.push(value);
    if (Array.isArray(value) && !(value as Sequence).cons) nested = true;
  }
  if (lastStep && result.length === 1 && Array.isArray(result[0]) && !isSequence(result[0])) return result[0] as Sequence;
  // Nothing to flatten: the flattened sequence would hold the same values in the same order.
  if (!nested) return result;
  const flattened = sequenceOf();
  for (const value of result) {
    if (!Array.isArray(value) || (value as Sequence).cons) flattened.push(value);
    else for (const item of value) flattened.push(item);
  }
  return flattened;
}

function compileFilter(stage: Ast, bound: ReadonlySet<string>): Filter {
  const predicate = stage.expr as Ast;
  if (predicate.type === 'number') {
    const wanted = Math.floor(predicate.value as number);
    return (input) => {
      const items = Array.isArray(input) ? input : sequenceOf(input);
      const index = wanted < 0 ? items.length + wanted : wanted;
      const item = items[index];
      if (item === undefined) return sequenceOf();
      return Array.isArray(item) ? item : sequenceOf(item);
    };
  }
  const evaluate = compile(predicate, bound);
  return (input, frame) => {
    const items = Array.isArray(input) ? input : sequenceOf(input);
    const results = sequenceOf();
    for (let index = 0; index < items.length; index++) {
      const item = items[index];
      let test = evaluate(item, frame);
      if (isNumeric(test)) test = [test];
      if (isArrayOfNumbers(test)) {
        for (const position of test as number[]) {
          let wanted = Math.floor(position);
          if (wanted < 0) wanted = items.length + wanted;
          if (wanted === index) results.push(item);
        }
      } else if (boolean(test)) {
        results.push(item);
      }
    }
    return results;
  };
}

function compileBinary(node: Ast, bound: ReadonlySet<string>): Evaluate {
  const lhs = compile(node.lhs, bound);
  const rhs = compile(node.rhs, bound);
  switch (node.value as string) {
    case 'and':
      return (input, frame) => boolize(lhs(input, frame)) && boolize(rhs(input, frame));
    case 'or':
      return (input, frame) => boolize(lhs(input, frame)) || boolize(rhs(input, frame));
    case '=':
      return (input, frame) => {
        const l = lhs(input, frame);
        const r = rhs(input, frame);
        return l === undefined || r === undefined ? false : isDeepEqual(l, r);
      };
    case '!=':
      return (input, frame) => {
        const l = lhs(input, frame);
        const r = rhs(input, frame);
        return l === undefined || r === undefined ? false : !isDeepEqual(l, r);
      };
    case '<':
    case '<=':
    case '>':
    case '>=': {
      const op = node.value as string;
      return (input, frame) => compare(lhs(input, frame), rhs(input, frame), op);
    }
    case '&':
      return (input, frame) => {
        const l = lhs(input, frame);
        const r = rhs(input, frame);
        return (l === undefined ? '' : string(l)) + (r === undefined ? '' : string(r));
      };
    case 'in':
      return (input, frame) => {
        const l = lhs(input, frame);
        const r = rhs(input, frame);
        if (l === undefined || r === undefined) return false;
        const candidates = Array.isArray(r) ? r : [r];
        for (const candidate of candidates) if (candidate === l) return true;
        return false;
      };
    default:
      throw new Unsupported(`binary ${node.value}`);
  }
}

function compileArray(node: Ast, bound: ReadonlySet<string>): Evaluate {
  const items = (node.expressions as Ast[]).map((item) => ({ nested: item.value === '[', evaluate: compile(item, bound) }));
  const cons = node.consarray === true;
  return (input, frame) => {
    let result: Sequence = [];
    for (const item of items) {
      const value = item.evaluate(input, frame);
      if (value === undefined) continue;
      if (item.nested) result.push(value);
      else result = append(result, value) as Sequence;
    }
    if (cons) Object.defineProperty(result, 'cons', { enumerable: false, configurable: false, value: true });
    return result;
  };
}

/** An object constructor: items grouped by each pair's key, each value evaluated on its group. */
function compileObject(pairs: Ast[][], bound: ReadonlySet<string>): Evaluate {
  const compiled = pairs.map(([key, value]) => ({ key: compile(key!, bound), value: compile(value!, bound) }));
  return (input, frame) => {
    // The package gives an empty context one undefined item by pushing it onto that very array (which may be
    // part of the input); that case is left to it rather than copied.
    if (Array.isArray(input) && input.length === 0) throw DECLINED;
    const items = Array.isArray(input) ? input : sequenceOf(input);
    const groups = new Map<string, { data: unknown; pair: number }>();
    for (const item of items) {
      for (let pair = 0; pair < compiled.length; pair++) {
        const key = compiled[pair]!.key(item, frame);
        if (key === undefined) continue;
        if (typeof key !== 'string' || key === '_jsonata_lambda' || key === '_jsonata_function') throw DECLINED;
        const group = groups.get(key);
        if (group === undefined) groups.set(key, { data: item, pair });
        else if (group.pair !== pair) throw DECLINED;
        else group.data = append(group.data, item);
      }
    }
    const result: Record<string, unknown> = Object.create(null);
    for (const [key, group] of groups) {
      const value = compiled[group.pair]!.value(group.data, frame);
      if (value !== undefined) result[key] = value;
    }
    return result;
  };
}

function compileCall(node: Ast, bound: ReadonlySet<string>, applied: Evaluate | undefined): Evaluate {
  const args = compileCallArgs(node, bound, applied === undefined ? 0 : 1);
  const name = node.procedure.value as string;
  return (input, frame) => {
    const values: unknown[] = [];
    if (applied !== undefined) values.push(applied(input, frame));
    const fn = frame.lookup(name);
    for (const arg of args) values.push(arg(input, frame));
    return invoke(fn, values);
  };
}

/** A call's arguments; the callee must be a variable, and when not one the expression binds, a built-in here. */
function compileCallArgs(node: Ast, bound: ReadonlySet<string>, extra: number): Evaluate[] {
  for (const key of NODE_KEYS_NOT_HANDLED) if (node[key] !== undefined) throw new Unsupported(key);
  const procedure = node.procedure as Ast;
  if (node.type !== 'function' || procedure?.type !== 'variable' || procedure.predicate !== undefined) throw new Unsupported('call target');
  const name = procedure.value as string;
  const args = (node.arguments as Ast[]).map((arg) => compile(arg, bound));
  if (!bound.has(name)) {
    const builtIn = BUILT_INS.get(name);
    if (builtIn === undefined || !builtIn.arities.includes(args.length + extra)) throw new Unsupported(`$${name}/${args.length + extra}`);
  }
  return args;
}

function invoke(fn: unknown, args: unknown[]): unknown {
  if (fn instanceof Lambda) return fn.call(args);
  if (fn instanceof BuiltIn && fn.arities.includes(args.length)) return fn.call(args);
  throw DECLINED;
}

/** Every variable the expression binds or takes as a lambda parameter (a call to one of those is not a built-in). */
function boundNames(ast: unknown): Set<string> {
  const names = new Set<string>(['$']);
  const walk = (node: unknown) => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (node === null || typeof node !== 'object') return;
    const n = node as Ast;
    if (n.type === 'bind' && n.lhs?.type === 'variable') names.add(n.lhs.value);
    if (n.type === 'lambda') for (const param of n.arguments ?? []) names.add(param.value);
    for (const value of Object.values(n)) walk(value);
  };
  walk(ast);
  return names;
}

// ---------------------------------------------------------------------------------------------------
// Values: the package's sequences, lookups, truthiness, equality and string forms.

function sequenceOf(...items: unknown[]): Sequence {
  const sequence: Sequence = items;
  sequence.sequence = true;
  return sequence;
}

function isSequence(value: unknown): value is Sequence {
  return Array.isArray(value) && (value as Sequence).sequence === true;
}

function isFunction(value: unknown): boolean {
  return value instanceof Lambda || value instanceof BuiltIn;
}

function isNumeric(value: unknown): value is number {
  if (typeof value !== 'number' || Number.isNaN(value)) return false;
  if (!Number.isFinite(value)) throw DECLINED;
  return true;
}

function isArrayOfNumbers(value: unknown): boolean {
  return Array.isArray(value) && value.every((item) => isNumeric(item));
}

function lookup(input: unknown, key: string): unknown {
  if (Array.isArray(input)) {
    const result = sequenceOf();
    for (const item of input) {
      const value = lookup(item, key);
      if (value === undefined) continue;
      if (Array.isArray(value)) for (const v of value) result.push(v);
      else result.push(value);
    }
    return result;
  }
  if (input !== null && typeof input === 'object' && !isFunction(input) && Object.prototype.hasOwnProperty.call(input, key)) {
    return (input as Record<string, unknown>)[key];
  }
  return undefined;
}

/** The package's effective boolean value; undefined for no value. */
function boolean(value: unknown): boolean | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value)) {
    if (value.length === 1) return boolean(value[0]);
    return value.length > 1 && value.some((item) => boolean(item));
  }
  if (typeof value === 'string') return value.length > 0;
  if (isNumeric(value)) return value !== 0;
  if (value !== null && typeof value === 'object' && !isFunction(value)) return Object.keys(value).length > 0;
  return value === true;
}

function boolize(value: unknown): boolean {
  return boolean(value) ?? false;
}

function isDeepEqual(lhs: unknown, rhs: unknown): boolean {
  if (lhs === rhs) return true;
  if (typeof lhs !== 'object' || typeof rhs !== 'object' || lhs === null || rhs === null) return false;
  if (Array.isArray(lhs) && Array.isArray(rhs)) {
    if (lhs.length !== rhs.length) return false;
    for (let i = 0; i < lhs.length; i++) if (!isDeepEqual(lhs[i], rhs[i])) return false;
    return true;
  }
  // Arrays carry the package's flags as own properties, so as objects they compare by those too.
  const lkeys = Object.getOwnPropertyNames(lhs).sort();
  const rkeys = Object.getOwnPropertyNames(rhs).sort();
  if (lkeys.length !== rkeys.length) return false;
  for (let i = 0; i < lkeys.length; i++) if (lkeys[i] !== rkeys[i]) return false;
  for (const key of lkeys) if (!isDeepEqual((lhs as Record<string, unknown>)[key], (rhs as Record<string, unknown>)[key])) return false;
  return true;
}

function compare(lhs: unknown, rhs: unknown, op: string): boolean | undefined {
  const ltype = typeof lhs;
  const rtype = typeof rhs;
  const comparable = (t: string) => t === 'undefined' || t === 'string' || t === 'number';
  if (!comparable(ltype) || !comparable(rtype)) throw DECLINED;
  if (lhs === undefined || rhs === undefined) return undefined;
  if (ltype !== rtype) throw DECLINED;
  const l = lhs as string | number;
  const r = rhs as string | number;
  if (op === '<') return l < r;
  if (op === '<=') return l <= r;
  if (op === '>') return l > r;
  return l >= r;
}

/** `$string` of a value, for the cases a mapping meets; anything else is the package's. */
function string(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean' || value === null) return String(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw DECLINED;
    return String(Number.isInteger(value) ? value : Number(value.toPrecision(15)));
  }
  throw DECLINED;
}

function append(first: unknown, second: unknown): unknown {
  if (first === undefined) return second;
  if (second === undefined) return first;
  const a = Array.isArray(first) ? first : sequenceOf(first);
  const b = Array.isArray(second) ? second : [second];
  return a.concat(b);
}

function typeOf(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (value === null) return 'null';
  if (isNumeric(value)) return 'number';
  if (typeof value === 'string') return 'string';
  if (typeof value === 'boolean') return 'boolean';
  if (Array.isArray(value)) return 'array';
  if (isFunction(value)) return 'function';
  return 'object';
}

// ---------------------------------------------------------------------------------------------------
// Built-in functions, each with its signature's checks (a mismatch is the package's error to raise).

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value) && !isFunction(value);

/** A `<a…>` parameter: nothing stays nothing, a single value becomes an array of one. */
function arrayArg(value: unknown): unknown[] | undefined {
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value : [value];
}

function stringArg(value: unknown): string | undefined {
  if (value === undefined || typeof value === 'string') return value;
  throw DECLINED;
}

function objectArg(value: unknown): Record<string, unknown> | undefined {
  if (value === undefined || isPlainObject(value)) return value;
  throw DECLINED;
}

function functionArg(value: unknown): Lambda {
  // Built-ins passed as values take arguments by their JavaScript arity; that case is the package's.
  if (value instanceof Lambda) return value;
  throw DECLINED;
}

/** Arguments for a higher-order function's callback: the value, then position and whole if it takes them. */
function callbackArgs(fn: Lambda, value: unknown, position: unknown, whole: unknown): unknown[] {
  const arity = fn.params.length;
  if (arity >= 3) return [value, position, whole];
  if (arity >= 2) return [value, position];
  return [value];
}

const BUILT_INS = new Map<string, BuiltIn>(
  [
    new BuiltIn('append', ([a, b]) => append(a, b), [2]),
    new BuiltIn('exists', ([value]) => value !== undefined, [1]),
    new BuiltIn('type', ([value]) => typeOf(value), [1]),
    new BuiltIn('not', ([value]) => (value === undefined ? undefined : !boolean(value)), [1]),
    new BuiltIn('boolean', ([value]) => boolean(value), [1]),
    new BuiltIn('count', ([value]) => arrayArg(value)?.length ?? 0, [1]),
    new BuiltIn('lowercase', ([value]) => stringArg(value)?.toLowerCase(), [1]),
    new BuiltIn('uppercase', ([value]) => stringArg(value)?.toUpperCase(), [1]),
    new BuiltIn('trim', ([value]) => {
      const text = stringArg(value);
      if (text === undefined) return undefined;
      let result = text.replace(/[ \t\n\r]+/gm, ' ');
      if (result.startsWith(' ')) result = result.substring(1);
      if (result.endsWith(' ')) result = result.substring(0, result.length - 1);
      return result;
    }, [1]),
    new BuiltIn('substring', ([value, start, length]) => {
      const text = stringArg(value);
      if (typeof start !== 'number' || (length !== undefined && typeof length !== 'number')) throw DECLINED;
      if (text === undefined) return undefined;
      const chars = Array.from(text);
      let from = start;
      if (chars.length + from < 0) from = 0;
      if (length !== undefined) {
        if (length <= 0) return '';
        const end = from >= 0 ? from + length : chars.length + from + length;
        return chars.slice(from, end).join('');
      }
      return chars.slice(from).join('');
    }, [2, 3]),
    new BuiltIn('join', ([values, separator]) => {
      const strings = arrayArg(values);
      if (strings !== undefined && !strings.every((item) => typeof item === 'string')) throw DECLINED;
      const glue = stringArg(separator) ?? '';
      return strings?.join(glue);
    }, [1, 2]),
    new BuiltIn('distinct', ([values]) => {
      if (!Array.isArray(values) || values.length <= 1) return values;
      const results: unknown[] = isSequence(values) ? sequenceOf() : [];
      for (const value of values) if (!results.some((kept) => isDeepEqual(value, kept))) results.push(value);
      return results;
    }, [1]),
    new BuiltIn('merge', ([values]) => {
      const objects = arrayArg(values);
      if (objects === undefined) return undefined;
      if (!objects.every(isPlainObject)) throw DECLINED;
      const result: Record<string, unknown> = Object.create(null);
      for (const object of objects) for (const key of Object.keys(object)) result[key] = object[key];
      return result;
    }, [1]),
    new BuiltIn('each', ([value, fn]) => {
      const object = objectArg(value);
      const callback = functionArg(fn);
      const result = sequenceOf();
      if (object === undefined) return result;
      for (const key of Object.keys(object)) {
        const mapped = callback.call(callbackArgs(callback, object[key], key, object));
        if (mapped !== undefined) result.push(mapped);
      }
      return result;
    }, [2]),
    new BuiltIn('sift', ([value, fn]) => {
      const object = objectArg(value);
      const callback = functionArg(fn);
      const result: Record<string, unknown> = Object.create(null);
      if (object === undefined) return undefined;
      for (const key of Object.keys(object)) {
        if (boolean(callback.call(callbackArgs(callback, object[key], key, object)))) result[key] = object[key];
      }
      return Object.keys(result).length === 0 ? undefined : result;
    }, [2]),
    new BuiltIn('map', ([values, fn]) => {
      const items = arrayArg(values);
      const callback = functionArg(fn);
      if (items === undefined) return undefined;
      const result = sequenceOf();
      for (let i = 0; i < items.length; i++) {
        const mapped = callback.call(callbackArgs(callback, items[i], i, items));
        if (mapped !== undefined) result.push(mapped);
      }
      return result;
    }, [2]),
    new BuiltIn('filter', ([values, fn]) => {
      const items = arrayArg(values);
      const callback = functionArg(fn);
      if (items === undefined) return undefined;
      const result = sequenceOf();
      for (let i = 0; i < items.length; i++) {
        if (boolean(callback.call(callbackArgs(callback, items[i], i, items)))) result.push(items[i]);
      }
      return result;
    }, [2]),
    new BuiltIn('reduce', ([values, fn, init]) => {
      const items = arrayArg(values);
      const callback = functionArg(fn);
      if (isFunction(init)) throw DECLINED;
      if (items === undefined) return undefined;
      const arity = callback.params.length;
      if (arity < 2) throw DECLINED;
      let result: unknown;
      let index: number;
      if (init === undefined && items.length > 0) {
        result = items[0];
        index = 1;
      } else {
        result = init;
        index = 0;
      }
      for (; index < items.length; index++) {
        const args = [result, items[index]];
        if (arity >= 3) args.push(index);
        if (arity >= 4) args.push(items);
        result = callback.call(args);
      }
      return result;
    }, [2, 3]),
    new BuiltIn('sort', (args) => {
      const [values, fn] = args;
      // An explicit second argument must be a function, even an undefined one (the signature's `f?`).
      const callback = args.length === 2 ? functionArg(fn) : undefined;
      const items = arrayArg(values);
      if (items === undefined) return undefined;
      if (items.length <= 1) return items;
      let swap: (a: unknown, b: unknown) => boolean;
      if (callback === undefined) {
        const numbers = items.every((item) => isNumeric(item));
        const strings = items.every((item) => typeof item === 'string');
        if (!numbers && !strings) throw DECLINED;
        swap = (a, b) => (a as number | string) > (b as number | string);
      } else {
        swap = (a, b) => Boolean(callback.call([a, b]));
      }
      return mergeSort(items, swap);
    }, [1, 2]),
  ].map((builtIn) => [builtIn.name, builtIn]),
);

/** The package's stable merge sort: `swap(left, right)` true takes the right item first. */
function mergeSort(items: unknown[], swap: (a: unknown, b: unknown) => boolean): unknown[] {
  if (items.length <= 1) return items;
  const middle = Math.floor(items.length / 2);
  const left = mergeSort(items.slice(0, middle), swap);
  const right = mergeSort(items.slice(middle), swap);
  const merged: unknown[] = [];
  let l = 0;
  let r = 0;
  while (l < left.length && r < right.length) {
    if (swap(left[l], right[r])) merged.push(right[r++]);
    else merged.push(left[l++]);
  }
  while (l < left.length) merged.push(left[l++]);
  while (r < right.length) merged.push(right[r++]);
  return merged;
}
