export { notifyReady, notifyStatus, notifyStopping, sdNotify, statusAssignment, type NotifyResult } from './notify.js';
