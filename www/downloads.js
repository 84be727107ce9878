// Results out: a file made in the page is saved through a Blob, an object URL and an
// <a download>, so nothing goes to a server and no inline script is needed (the page's CSP allows
// none). Tables go out as CSV and as JSON; the numbers in them are the core's, unrounded.

/** Saves `data` (bytes or text) as a file called `name` of MIME type `type`. */
export function saveFile(name, type, data) {
  const url = URL.createObjectURL(new Blob([data], { type }));
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  // The download has started from the URL by now; a minute leaves slow browsers room.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** One CSV cell: quoted when it holds a comma, a quote or a line break (RFC 4180). */
function cell(value) {
  const text = value === null || value === undefined ? '' : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** A CSV table: a header row of `columns`' names, then one row per record. */
export function toCsv(columns, records) {
  const lines = [columns.map(([name]) => cell(name)).join(',')];
  for (const record of records) lines.push(columns.map(([, get]) => cell(get(record))).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

/** Saves a table as CSV. */
export function saveCsv(name, columns, records) {
  saveFile(name, 'text/csv', toCsv(columns, records));
}

/** Saves any JSON value, indented for reading. */
export function saveJson(name, value) {
  saveFile(name, 'application/json', `${JSON.stringify(value, null, 2)}\n`);
}
