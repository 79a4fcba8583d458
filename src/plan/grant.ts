/**
 * Why a profile has the boards or not; `host gateway`: it is served by the host gateway, whose grant
 * it shares; `service.kanban`: a service's own `kanban` key.
 */
export type GrantReason =
  | 'kanban.enabled'
  | 'kanban.dispatch_in_gateway'
  | 'kanban.enabled=false'
  | 'not configured'
  | 'host gateway'
  | 'service.kanban'
  | 'service.kanban=false';

export interface KanbanKeys {
  enabled?: boolean;
  dispatch_in_gateway?: boolean;
  notify_in_gateway?: boolean;
}

export interface Grant {
  granted: boolean;
  reason: GrantReason;
  /** Whether the gateway runs Hermes's dispatcher (only ever true when granted). */
  dispatch: boolean;
  /** Whether the gateway runs Hermes's notifier (only ever true when granted). */
  notify: boolean;
}

/**
 * Least privilege: a gateway gets the shared boards only when its profile asks with `kanban.enabled: true`
 * or `kanban.dispatch_in_gateway: true`; `kanban.enabled: false` always wins. A missing key is no grant,
 * unlike Hermes's own default of dispatching.
 */
export function decideGrant(kanban: KanbanKeys): Grant {
  if (kanban.enabled === false) return { granted: false, reason: 'kanban.enabled=false', dispatch: false, notify: false };
  const dispatch = kanban.dispatch_in_gateway === true;
  const notify = kanban.notify_in_gateway !== false;
  if (kanban.enabled === true) return { granted: true, reason: 'kanban.enabled', dispatch, notify };
  if (dispatch) return { granted: true, reason: 'kanban.dispatch_in_gateway', dispatch, notify };
  return { granted: false, reason: 'not configured', dispatch: false, notify: false };
}
