"""Sends the key store's models (readers' data keys, daily salts, key-store secrets) to a
database of their own, so a backup of the main database holds no key to open anything in it."""

KEY_STORE = "keys"
# The marker of a key-store model is its table name: migrations' historical models keep the
# table name (not custom attributes), so one rule routes both the models and their migrations.
KEY_STORE_TABLE_PREFIX = "keystore_"


def in_key_store(model) -> bool:
    return model._meta.db_table.startswith(KEY_STORE_TABLE_PREFIX)


class KeyStoreRouter:
    """Key-store models read, write and migrate only in the `keys` database; every other
    model only outside it. Relations between the two are plain ids, never foreign keys."""

    def db_for_read(self, model, **hints):
        return KEY_STORE if in_key_store(model) else None

    def db_for_write(self, model, **hints):
        return KEY_STORE if in_key_store(model) else None

    def allow_relation(self, obj1, obj2, **hints):
        if in_key_store(obj1.__class__) != in_key_store(obj2.__class__):
            return False
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        model = hints.get("model")
        if model is not None:
            return (db == KEY_STORE) == in_key_store(model)
        if "target_db" in hints:  # data migrations that name their database
            return db == hints["target_db"]
        if db == KEY_STORE:
            return False
        return None
