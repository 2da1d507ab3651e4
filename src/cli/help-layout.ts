/**
 * Repairs one flaw of yargs' help layout. cliui 8 puts an option's right-hand
 * annotations (`[string] [default: "sb"]`) on the last line of its description
 * when they fit there, and its fit test lets them touch the text with no space
 * between: `(with --tls-cert)[string]`, at whatever width a description happens
 * to end exactly where the annotations begin.
 */

/** The annotations yargs appends to an option, in the order it writes them. */
const ANNOTATION =
  /^(.*\S)(\[(?:deprecated|string|number|boolean|array|count|required|choices: |default: ).*)$/;

/**
 * The help text with every annotation glued to its description moved to a line
 * of its own, right-aligned at `width` as cliui aligns it when it does not fit.
 */
export function separateAnnotations(help: string, width: number): string {
  return help
    .split('\n')
    .map((line) => {
      const glued = ANNOTATION.exec(line);
      if (!glued) return line;
      const [, text = '', annotation = ''] = glued;
      return `${text}\n${annotation.padStart(width)}`;
    })
    .join('\n');
}
