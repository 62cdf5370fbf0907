/**
 * `$(VAR)` expansion as upstream's `third_party/forked/golang/expansion` does it for command,
 * args and env values: a reference to a defined name becomes its value, `$$` becomes `$`, and
 * a reference to an undefined name (or an unterminated one) stays as written.
 */
export function expandVars(input: string, lookup: (name: string) => string | undefined): string {
  let out = '';
  let i = 0;
  while (i < input.length) {
    const ch = input[i];
    if (ch !== '$' || i + 1 >= input.length) {
      out += ch;
      i++;
      continue;
    }
    const next = input[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
    } else if (next === '(') {
      const close = input.indexOf(')', i + 2);
      if (close < 0) {
        out += input.slice(i);
        break;
      }
      const name = input.slice(i + 2, close);
      const value = name === '' ? undefined : lookup(name);
      out += value ?? input.slice(i, close + 1);
      i = close + 1;
    } else {
      out += '$' + next;
      i += 2;
    }
  }
  return out;
}
