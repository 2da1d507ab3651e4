/** The value under `key`, made by `make` and stored on first use. */
export function getOrCreate<K, V>(
  map: Map<K, V> | WeakMap<K & object, V>,
  key: K,
  make: () => V,
): V {
  let value = (map as Map<K, V>).get(key);
  if (value === undefined) {
    value = make();
    (map as Map<K, V>).set(key, value);
  }
  return value;
}
