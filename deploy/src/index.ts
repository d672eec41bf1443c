export * from './hub-processes.js';
