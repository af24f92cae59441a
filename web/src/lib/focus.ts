import { useEffect } from 'react';

/**
 * After a failed submit, moves focus to the first field marked
 * aria-invalid inside the element matching `selector`. It runs after React
 * has committed the render that shows the error (an effect on `error`), not
 * in a callback that may run before the fields are marked.
 */
export function useFocusFirstInvalid(error: unknown, selector: string): void {
  useEffect(() => {
    if (!error) return;
    document.querySelector<HTMLElement>(`${selector} [aria-invalid="true"]`)?.focus();
  }, [error, selector]);
}
