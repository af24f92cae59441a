import { ApiClient } from './client';
import { TokenStore } from './tokens';
import { createApi } from './endpoints';

export const tokens = new TokenStore();
export const client = new ApiClient({ tokens });
export const api = createApi(client);
export { ApiError, errorMessage } from './client';
export { itemsOf } from './endpoints';
export type * from './types';
