import { describe, expect, it } from 'vitest';
import { act, render, screen } from '@testing-library/react';
import { useState } from 'react';
import { useFocusFirstInvalid } from './focus';

function Form() {
  const [error, setError] = useState<Error | null>(null);
  useFocusFirstInvalid(error, 'form[aria-label="F"]');
  return (
    <form aria-label="F">
      <input aria-label="a" />
      <input aria-label="b" aria-invalid={error ? true : undefined} />
      <button type="button" onClick={() => setError(new Error('bad'))}>submit</button>
    </form>
  );
}

describe('useFocusFirstInvalid', () => {
  it('focuses the field marked invalid by the same render as the error', () => {
    render(<Form />);
    act(() => screen.getByRole('button').click());
    expect(document.activeElement).toBe(screen.getByLabelText('b'));
  });
});
