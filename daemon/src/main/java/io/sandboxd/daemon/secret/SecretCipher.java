package io.sandboxd.daemon.secret;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Arrays;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * AES-256-GCM over secret values. Every value gets a fresh random 96-bit nonce (GCM's safety rests on never
 * reusing one under a key; random nonces keep that for far more values than a daemon stores). The associated data
 * names the row the value belongs to, so a ciphertext moved to another secret, team or version fails to open
 * instead of handing out someone else's value.
 */
public final class SecretCipher {
    public static final int KEY_BYTES = 32;
    public static final int NONCE_BYTES = 12;
    private static final int TAG_BITS = 128;
    private static final SecureRandom RANDOM = new SecureRandom();

    /** A sealed value: the nonce it was sealed with and ciphertext with the GCM tag appended. */
    public record Sealed(byte[] nonce, byte[] ciphertext) {
        public Sealed {
            if (nonce.length != NONCE_BYTES) {
                throw new IllegalArgumentException("a nonce is " + NONCE_BYTES + " bytes, got " + nonce.length);
            }
            nonce = nonce.clone();
            ciphertext = ciphertext.clone();
        }

        @Override
        public byte[] nonce() {
            return nonce.clone();
        }

        @Override
        public byte[] ciphertext() {
            return ciphertext.clone();
        }
    }

    /** The value did not open: the key is not the one it was sealed with, or nonce, ciphertext or binding changed. */
    public static final class OpenFailedException extends RuntimeException {
        OpenFailedException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    private final SecretKeySpec key;

    public SecretCipher(byte[] key) {
        if (key.length != KEY_BYTES) {
            throw new IllegalArgumentException("an AES-256 key is " + KEY_BYTES + " bytes, got " + key.length);
        }
        this.key = new SecretKeySpec(key.clone(), "AES");
    }

    /** What a value is bound to: its secret, its team and its version. */
    public static byte[] binding(String secretId, String teamId, long version) {
        return ("sandboxd-secret\0" + secretId + "\0" + teamId + "\0" + version).getBytes(StandardCharsets.UTF_8);
    }

    public Sealed seal(String value, byte[] associatedData) {
        byte[] nonce = new byte[NONCE_BYTES];
        RANDOM.nextBytes(nonce);
        byte[] plain = value.getBytes(StandardCharsets.UTF_8);
        try {
            Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
            c.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, nonce));
            c.updateAAD(associatedData);
            return new Sealed(nonce, c.doFinal(plain));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM is not available in this JDK", e);
        } finally {
            Arrays.fill(plain, (byte) 0);
        }
    }

    public String open(Sealed sealed, byte[] associatedData) {
        try {
            Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
            c.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, sealed.nonce()));
            c.updateAAD(associatedData);
            return new String(c.doFinal(sealed.ciphertext()), StandardCharsets.UTF_8);
        } catch (AEADBadTagException e) {
            throw new OpenFailedException("the secret's stored value does not open with this daemon's secret key "
                    + "(a different or replaced <data-dir>/" + SecretKeyFile.FILE + ", or the row was altered)", e);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM is not available in this JDK", e);
        }
    }
}
