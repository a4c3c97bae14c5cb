/** `{name}` placeholders in URL templates and parameter values. */

const PLACEHOLDER = /\{([^{}]*)\}/g;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

export class TemplateError extends Error {
  override readonly name = 'TemplateError';
}

/** The placeholder names of a template; throws on unbalanced braces or a malformed name. */
export function templatePlaceholders(template: string): string[] {
  const names: string[] = [];
  for (const match of template.matchAll(PLACEHOLDER)) {
    const name = match[1] ?? '';
    if (!IDENTIFIER.test(name)) throw new TemplateError(`malformed placeholder "{${name}}"`);
    names.push(name);
  }
  // Braces left after removing well-formed placeholders are unbalanced.
  if (/[{}]/.test(template.replace(PLACEHOLDER, ''))) throw new TemplateError('unbalanced "{" or "}"');
  return names;
}

/**
 * Substitutes every placeholder, URI-encoding values by default so a value cannot change the URL's
 * structure (`encode: false` for query values that URLSearchParams encodes itself).
 */
export function expandTemplate(template: string, values: Readonly<Record<string, string>>, encode = true): string {
  return template.replace(PLACEHOLDER, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new TemplateError(`no value for placeholder "{${name}}"`);
    return encode ? encodeURIComponent(value) : value;
  });
}
