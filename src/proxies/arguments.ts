/**
 * Checking the arguments of a call before its handler runs: against the
 * method's schemas when it has some (any Standard Schema validator: zod,
 * valibot, arktype...), else against the number of parameters the handler
 * declares. A mismatch is `BAD_REQUEST` naming the argument and the field.
 */
import { ErrorCode, SwitchboardError } from '../protocol/index.js';

/**
 * The part of the Standard Schema interface (standardschema.dev, v1) used
 * here, so that no validator library is a dependency.
 */
export interface StandardSchemaV1<Output = unknown> {
  readonly '~standard': {
    readonly version: 1;
    readonly vendor: string;
    validate(value: unknown): StandardResult<Output> | Promise<StandardResult<Output>>;
  };
}

/** What a Standard Schema's `validate` returns. */
export type StandardResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | { readonly issues: ReadonlyArray<StandardIssue> };

/** One problem a Standard Schema found. */
export interface StandardIssue {
  readonly message: string;
  readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined;
}

/** How one method's arguments are checked. */
export interface ArgumentRules {
  /** One schema per argument, in order; arguments past the last have none and are refused. */
  schemas?: readonly StandardSchemaV1[] | undefined;
  /** Whether the method takes any number of arguments (rest parameters, defaults, `arguments`). */
  variadic: boolean;
  /**
   * Parameters the handler declares (`Function.length`: those before a
   * default or rest); 0 means unknown (a wrapper taking `...args`).
   */
  declared: number;
}

function refuse(message: string, details?: unknown): SwitchboardError {
  return SwitchboardError.refusal(ErrorCode.BAD_REQUEST, message, { completed: 'no', details });
}

function describeIssue(index: number, issue: StandardIssue | undefined): string {
  const path = (issue?.path ?? []).map((p) =>
    String(typeof p === 'object' && p !== null ? p.key : p),
  );
  const field = path.length > 0 ? ` field '${path.join('.')}'` : '';
  return `argument ${index + 1}${field}: ${issue?.message ?? 'is not valid'}`;
}

/**
 * Checks `args` for method `method` by `rules`; returns them (as the schemas
 * output them), or a promise of that when a schema validates asynchronously.
 * Throws (or rejects with) `BAD_REQUEST`.
 */
export function checkArguments(
  method: string,
  args: unknown[],
  rules: ArgumentRules,
): unknown[] | Promise<unknown[]> {
  const { schemas } = rules;
  if (!schemas) {
    // A handler that declares nothing may be a wrapper passing `...args` on: not checked.
    if (!rules.variadic && rules.declared > 0 && args.length > rules.declared) {
      throw refuse(
        `${method} takes ${rules.declared} argument${rules.declared === 1 ? '' : 's'}, got ${args.length}`,
        { expected: rules.declared, got: args.length },
      );
    }
    return args;
  }
  if (!rules.variadic && args.length > schemas.length) {
    throw refuse(`${method} takes ${schemas.length} arguments, got ${args.length}`, {
      expected: schemas.length,
      got: args.length,
    });
  }
  const results = schemas.map((schema, i) => schema['~standard'].validate(args[i]));
  const finish = (settled: ReadonlyArray<StandardResult<unknown>>): unknown[] => {
    const out = [...args];
    settled.forEach((result, i) => {
      if (result.issues) {
        throw refuse(`${method}: ${describeIssue(i, result.issues[0])}`, {
          argument: i,
          issues: result.issues.map((issue) => describeIssue(i, issue)),
        });
      }
      // A trailing optional argument left out stays left out.
      if (i < args.length || result.value !== undefined) out[i] = result.value;
    });
    return out;
  };
  if (results.some((r) => r instanceof Promise)) return Promise.all(results).then(finish);
  return finish(results as StandardResult<unknown>[]);
}
