package lakejobs;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import javax.security.sasl.AuthenticationException;
import org.apache.hive.service.auth.PasswdAuthenticationProvider;

/**
 * HiveServer2 CUSTOM authentication for {@code lakejobs serve}: one user name and password, read
 * from the server process's environment ({@code LAKEJOBS_BI_USER}, {@code LAKEJOBS_BI_PASSWORD}),
 * so they are never in a Spark conf, a plan, the UI or a file of the repository.
 *
 * <p>Both values are compared as SHA-256 digests with {@link MessageDigest#isEqual} (constant
 * time, and the length of the secret does not leak), user and password always both.
 */
public final class EnvPasswordAuthenticator implements PasswdAuthenticationProvider {
  public static final String USER_ENV = "LAKEJOBS_BI_USER";
  public static final String PASSWORD_ENV = "LAKEJOBS_BI_PASSWORD";

  @Override
  public void Authenticate(String user, String password) throws AuthenticationException {
    String expectedUser = System.getenv(USER_ENV);
    String expectedPassword = System.getenv(PASSWORD_ENV);
    if (expectedUser == null || expectedUser.isEmpty()
        || expectedPassword == null || expectedPassword.isEmpty()) {
      throw new AuthenticationException(
          "the server has no credentials (" + USER_ENV + ", " + PASSWORD_ENV + ")");
    }
    boolean userMatches = MessageDigest.isEqual(digest(user), digest(expectedUser));
    boolean passwordMatches = MessageDigest.isEqual(digest(password), digest(expectedPassword));
    if (!(userMatches & passwordMatches)) {
      throw new AuthenticationException("wrong user name or password");
    }
  }

  private static byte[] digest(String value) {
    try {
      return MessageDigest.getInstance("SHA-256")
          .digest((value == null ? "" : value).getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is not available in this JVM", e);
    }
  }
}
