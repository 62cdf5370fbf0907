/** Strict base64 (Go's `base64.StdEncoding`: padded, standard alphabet) as `[]byte` fields use. */

const base64Re = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The decoded length of a padded base64 string, or -1 when it is not valid base64. */
export function base64DecodedLength(text: string): number {
  if (!base64Re.test(text)) return -1;
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  return (text.length / 4) * 3 - pad;
}

/** Whether `text` is strict padded base64. */
export function isBase64(text: string): boolean {
  return base64Re.test(text);
}
