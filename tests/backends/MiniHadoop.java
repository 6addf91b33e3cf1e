// HDFS (1 NameNode + 1 DataNode) and YARN (1 ResourceManager + 1 NodeManager) in one JVM, for the
// backend tests. Started by tests/backends/clusters.py as a single-file program (`java -cp ...
// MiniHadoop.java`, no build step) on the shaded hadoop-client-minicluster jar plus pyspark's own
// hadoop-client-api/runtime jars.
//
// Why not MiniHadoopClusterManager: it starts YARN through MiniMRYarnCluster, which needs the
// unshaded MapReduce app, shuffle and history-server jars and their dependencies; Spark needs none of
// MapReduce. This is what Spark's own BaseYarnClusterSuite does: MiniDFSCluster + MiniYARNCluster.
//
// Usage: MiniHadoop BASE_DIR CONF_OUT NN_PORT [key=value ...]
// Writes the client configuration (real addresses) to CONF_OUT once both are up, then runs until
// SIGTERM, when a shutdown hook stops YARN (killing its containers) and HDFS.

import java.io.File;
import java.io.FileOutputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.hdfs.MiniDFSCluster;
import org.apache.hadoop.yarn.conf.YarnConfiguration;
import org.apache.hadoop.yarn.server.MiniYARNCluster;

public class MiniHadoop {
  public static void main(String[] args) {
    try {
      run(args);
    } catch (Throwable e) { // a half-started cluster must not linger: exit, the hook cleans up
      e.printStackTrace();
      System.exit(1);
    }
  }

  private static void run(String[] args) throws Exception {
    File base = new File(args[0]);
    File confOut = new File(args[1]);
    int nameNodePort = Integer.parseInt(args[2]);
    Configuration conf = new YarnConfiguration();
    for (int i = 3; i < args.length; i++) {
      int eq = args[i].indexOf('=');
      conf.set(args[i].substring(0, eq), args[i].substring(eq + 1));
    }
    conf.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, new File(base, "dfs").getAbsolutePath());
    MiniDFSCluster dfs =
        new MiniDFSCluster.Builder(conf).nameNodePort(nameNodePort).numDataNodes(1).format(true)
            .build();
    dfs.waitActive();
    conf.set("fs.defaultFS", dfs.getFileSystem().getUri().toString());

    System.setProperty("test.build.data", new File(base, "yarn").getAbsolutePath());
    MiniYARNCluster yarn = new MiniYARNCluster("lakejobs", 1, 1, 1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  yarn.stop();
                  dfs.shutdown();
                }));
    yarn.init(conf);
    yarn.start();
    // The ResourceManager publishes its real port in the config once it is listening.
    while (yarn.getConfig().get(YarnConfiguration.RM_ADDRESS, ":0").endsWith(":0")) {
      Thread.sleep(100);
    }
    // The NodeManager must have registered, or the first application waits for one.
    while (yarn.getResourceManager().getRMContext().getRMNodes().isEmpty()) {
      Thread.sleep(100);
    }
    File tmp = new File(confOut.getPath() + ".tmp");
    try (OutputStream out = new FileOutputStream(tmp)) {
      yarn.getConfig().writeXml(out);
    }
    Files.move(tmp.toPath(), confOut.toPath(), StandardCopyOption.ATOMIC_MOVE);
    System.out.println("MiniHadoop ready: " + conf.get("fs.defaultFS"));
    Thread.sleep(Long.MAX_VALUE);
  }
}
