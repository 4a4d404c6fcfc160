/**
 * @module proxy/settings/reference
 * The settings table as people read it: the options of `sluice proxy
 * --help`, and the rows of the configuration reference
 * (docs/proxy-configuration.md, written by scripts/generate-docs.js).
 */
import type { CommandOption } from '../../cli-args.js'
import { settingRows } from './table.js'
import type { ProxySetting } from './table.js'

/** Markdown as plain text: the usage shows `code` without its backticks. */
function plain (markdown: string): string {
  return markdown.replace(/`/g, '')
}

/** A default value as the reference writes it: `8080`, `[pii, secret]`, `{ id: reject }`. */
function formatValue (value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(formatValue).join(', ')}]`
  if (typeof value === 'object' && value !== null) {
    return `{ ${Object.entries(value).map(([k, v]) => `${k}: ${formatValue(v)}`).join(', ')} }`
  }
  return String(value)
}

/** The default, in Markdown: what the row says about it, else its value. */
function defaultOf (row: ProxySetting): string {
  if (row.doc.default !== undefined) return row.doc.default
  return row.default === undefined ? 'none' : `\`${formatValue(row.default)}\``
}

/** A `--no-…` switch turns its setting off; any other switch turns it on. */
function turnsOff (flag: string): boolean {
  return flag.startsWith('no-')
}

/** The value a flag takes in the usage and the reference (`N`, `MS`, `URL`), none for a switch. */
function placeholderOf (row: ProxySetting): string | undefined {
  return row.parse.form === 'switch' ? undefined : row.doc.value ?? row.parse.placeholder
}

/** The default as the usage shows it: a number or a word; the rest is left to the reference. */
function usageDefault (row: ProxySetting): string | undefined {
  if (row.doc.default !== undefined) return undefined
  const value = row.default
  return typeof value === 'number' || (typeof value === 'string' && value !== '') ? String(value) : undefined
}

/**
 * Every flag of `sluice proxy` as the usage shows it: what it does, its
 * default and its environment variable (`[$SLUICE_PORT]`).
 */
export function proxyUsageOptions (): Record<string, CommandOption> {
  const options: Record<string, CommandOption> = {}
  for (const row of settingRows) {
    if (row.flag === undefined) continue
    const shownDefault = usageDefault(row)
    const value = placeholderOf(row)
    // `repeatable` before the variable, which ends every line (commandUsage would add it after).
    const help = plain(row.doc.flag ?? row.doc.what) +
      (shownDefault === undefined ? '' : ` (default ${shownDefault})`) +
      (row.parse.form === 'list' ? ', repeatable' : '') +
      (row.env === undefined ? '' : ` [$${row.env}]`)
    options[row.flag] = { type: row.parse.form === 'switch' ? 'boolean' : 'string', ...(value === undefined ? {} : { value }), help }
  }
  return options
}

/** One row of the configuration reference, as Markdown cells. */
export interface ReferenceRow {
  setting: string
  flag: string
  env: string
  file: string
  default: string
}

function capitalised (text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1)
}

function flagCell (row: ProxySetting): string {
  if (row.flag === undefined) return '—'
  const value = placeholderOf(row)
  const note = row.parse.form === 'list' ? ' (repeatable)' : row.parse.form === 'switch' && turnsOff(row.flag) ? ' (turns off)' : ''
  return `\`--${row.flag}${value === undefined ? '' : ' ' + value}\`${note}`
}

function envCell (row: ProxySetting): string {
  if (row.env === undefined) return '—'
  const note = row.parse.form === 'list' ? ' (comma list)' : row.parse.form === 'switch' ? ' (true/false)' : ''
  return `\`${row.env}\`${note}`
}

/**
 * The rows of docs/proxy-configuration.md, in the table's order.
 * @public scripts/generate-docs.js loads it from dist/
 */
export function proxySettingsReference (): ReferenceRow[] {
  return settingRows.map((row) => ({
    setting: capitalised(row.doc.what) + (row.doc.more === undefined ? '' : `. ${row.doc.more}`) + (row.doc.why === undefined ? '' : ` — ${row.doc.why}`),
    flag: flagCell(row),
    env: envCell(row),
    file: row.file === undefined ? '—' : `\`${row.file}\``,
    default: defaultOf(row)
  }))
}
