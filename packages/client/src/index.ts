export { type ConsoleInput, type CreateBoxInput, type EventFilter, type ExecInput, NsboxClient, type StreamOptions } from './client.js';
export { isNsboxApiError, NsboxApiError } from './errors.js';
export { ExecSession } from './exec-session.js';
export { OperationHandle, type WaitOptions } from './operation-handle.js';
export { coveredRoutes } from './routes.js';
export { readSse, type SseMessage } from './sse.js';
export { type ClientOptions, DEFAULT_SOCKET, type Query } from './transport.js';
export type * from './types.js';
export { connectWebSocket, WebSocketConnection } from './websocket.js';
