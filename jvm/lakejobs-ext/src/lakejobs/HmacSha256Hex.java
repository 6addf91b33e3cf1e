package lakejobs;

import java.io.IOException;
import java.io.ObjectInputStream;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.HexFormat;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.api.java.UDF1;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;

/**
 * Lower-case hex HMAC-SHA256 of a UTF-8 string (null stays null), as a Spark UDF.
 *
 * <p>Why a JVM function: built from Spark's own sha2/concat, the key-derived pads become literals
 * of the query plan and so reach the Spark UI and event logs. Here the key is a private field of
 * the function object: it travels only inside serialized tasks, and plans show the function's
 * name ({@code lakejobs_pseudonym(user_id)}).
 */
public final class HmacSha256Hex implements UDF1<String, String> {
  private static final long serialVersionUID = 1L;
  private static final String ALGORITHM = "HmacSHA256";
  public static final String NAME = "lakejobs_pseudonym";

  private final byte[] key;
  private transient ThreadLocal<Mac> macs;

  public HmacSha256Hex(byte[] key) {
    if (key == null || key.length == 0) {
      throw new IllegalArgumentException("an HMAC key must not be empty");
    }
    this.key = key.clone();
    this.macs = ThreadLocal.withInitial(this::newMac);
  }

  /** The pseudonym column of {@code message} under {@code key}. */
  public static Column column(Column message, byte[] key) {
    return functions.udf(new HmacSha256Hex(key), DataTypes.StringType).withName(NAME).apply(message);
  }

  @Override
  public String call(String message) {
    if (message == null) {
      return null;
    }
    return HexFormat.of().formatHex(macs.get().doFinal(message.getBytes(StandardCharsets.UTF_8)));
  }

  @Override
  public String toString() {
    return NAME; // never the key
  }

  private Mac newMac() {
    try {
      Mac mac = Mac.getInstance(ALGORITHM);
      mac.init(new SecretKeySpec(key, ALGORITHM));
      return mac;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is not available in this JVM", e);
    }
  }

  private void readObject(ObjectInputStream in) throws IOException, ClassNotFoundException {
    in.defaultReadObject();
    macs = ThreadLocal.withInitial(this::newMac);
  }
}
