import { matchPath, type PathParams } from './path-match.ts';

/** One route of an emulator's HTTP control API (`/_emulator/...`): what it does with the control handle. */
export interface ControlRoute<Control> {
  method: string;
  pattern: string;
  handle(control: Control, body: Record<string, unknown>, params: PathParams): unknown;
}

/**
 * Runs the control route matching `method` and `path`: 200 with its result (`{ok: true}` when it has none),
 * or undefined when no route matches. An error that is already the provider's stays as it is; any other
 * (a model's "Not found", a bad argument) is answered in the provider's own error shape by `asApiError`.
 */
export async function dispatchControl<Control>(
  routes: ReadonlyArray<ControlRoute<Control>>,
  control: Control,
  request: { method: string; path: string; body: Record<string, unknown> },
  errors: { isApiError(error: unknown): boolean; asApiError(message: string): Error },
): Promise<{ status: number; body: unknown } | undefined> {
  for (const route of routes) {
    const params = route.method === request.method ? matchPath(route.pattern, request.path) : undefined;
    if (!params) continue;
    try {
      return { status: 200, body: (await route.handle(control, request.body, params)) ?? { ok: true } };
    } catch (error) {
      if (errors.isApiError(error)) throw error;
      throw errors.asApiError(error instanceof Error ? error.message : String(error));
    }
  }
  return undefined;
}
