package io.sandboxd.daemon.store;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/** Repository tests: each test gets a store over its own fresh database of the shared test PostgreSQL. */
abstract class FreshStoreTest {
    Store store;

    @BeforeEach
    void openFreshStore() throws Exception {
        store = Store.over(TestPostgres.freshDatabase());
    }

    @AfterEach
    void closeStore() {
        store.close();
    }
}
