/** The browser's IANA time zone, and every zone it knows (UTC and the browser's first). */
export const browserTz: string = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

export const zones: string[] = (() => {
  try {
    const z = (Intl as unknown as { supportedValuesOf?: (k: string) => string[] }).supportedValuesOf?.('timeZone') ?? [];
    return Array.from(new Set(['UTC', browserTz, ...z]));
  } catch {
    return ['UTC', browserTz];
  }
})();

/** The list with `extra` added when the browser does not know it (a zone saved elsewhere). */
export function zonesWith(extra: string | undefined): string[] {
  return extra && !zones.includes(extra) ? [extra, ...zones] : zones;
}
