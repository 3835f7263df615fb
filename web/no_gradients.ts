/**
 * Stands in for the full `@tensorflow/tfjs` bundle in the browser build (see `import_map.json`):
 * the model imports it only to register gradients, which sampling never needs, and leaving it out
 * keeps tfjs's WebGL backend, layers and converter out of the page.
 *
 * @module
 */
export {};
