package io.sandboxd.envd.filesystem;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class FileModesTest {
    @Test
    void permissionStringsReadLikeGosFileModeString() {
        assertEquals("-rw-r--r--", FileModes.permissionString(0100644));
        assertEquals("drwxr-xr-x", FileModes.permissionString(0040755));
        assertEquals("Lrwxrwxrwx", FileModes.permissionString(0120777));
        assertEquals("dtrwxrwxrwx", FileModes.permissionString(0041777));
        assertEquals("urwxr-xr-x", FileModes.permissionString(0104755));
        assertEquals("grwxr-xr-x", FileModes.permissionString(0102755));
        assertEquals("Dcrw-rw-rw-", FileModes.permissionString(0020666));
        assertEquals("Drw-rw----", FileModes.permissionString(0060660));
        assertEquals("prw-------", FileModes.permissionString(0010600));
        assertEquals("Srwxr-xr-x", FileModes.permissionString(0140755));
        assertEquals("----------", FileModes.permissionString(0100000));
    }

    @Test
    void modeIsThePermissionBitsOnly() {
        assertEquals(420, FileModes.permissionBits(0100644));
        assertEquals(0755, FileModes.permissionBits(0104755));
        assertEquals(0777, FileModes.permissionBits(0041777));
    }
}
