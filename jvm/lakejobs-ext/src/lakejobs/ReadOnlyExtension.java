package lakejobs;

import java.util.Collections;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.WeakHashMap;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.SparkSessionExtensions;
import org.apache.spark.sql.catalyst.FunctionIdentifier;
import org.apache.spark.sql.catalyst.TableIdentifier;
import org.apache.spark.sql.catalyst.analysis.UnresolvedFunction;
import org.apache.spark.sql.catalyst.analysis.UnresolvedRelation;
import org.apache.spark.sql.catalyst.analysis.UnresolvedTableOrView;
import org.apache.spark.sql.catalyst.analysis.UnresolvedTableValuedFunction;
import org.apache.spark.sql.catalyst.expressions.Expression;
import org.apache.spark.sql.catalyst.expressions.PlanExpression;
import org.apache.spark.sql.catalyst.parser.ParameterContext;
import org.apache.spark.sql.catalyst.parser.ParseException;
import org.apache.spark.sql.catalyst.parser.ParserInterface;
import org.apache.spark.sql.catalyst.plans.logical.Command;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.StructType;
import scala.collection.immutable.Seq;
import scala.jdk.javaapi.CollectionConverters;
import scala.runtime.AbstractFunction1;
import scala.runtime.AbstractFunction2;
import scala.runtime.BoxedUnit;

/**
 * A read-only SQL front door for {@code lakejobs serve} ({@code spark.sql.extensions}).
 *
 * <p>Every SQL text a session parses is checked before analysis: it must be a query over catalog
 * tables (no command, no INSERT/DELETE/UPDATE/MERGE, no DDL, no path reads such as
 * {@code text.`file:///etc/passwd`}, no table functions other than a few generators, no
 * reflection functions), or one of the metadata statements BI tools send (SHOW, DESCRIBE, USE,
 * SET). The check is on the parsed plan, so it holds whatever a client sets in its session
 * (a JDBC URL may set {@code spark.sql.runSQLOnFiles}). Delta's own log reads build DataFrames, not
 * SQL text, and are not affected. The server's own session, which registers the tables, is
 * exempted by {@link #allowWrites(SparkSession)}; JDBC sessions are new sessions, never exempt.
 */
public final class ReadOnlyExtension extends AbstractFunction1<SparkSessionExtensions, BoxedUnit> {
  private static final Map<SparkSession, Boolean> EXEMPT =
      Collections.synchronizedMap(new WeakHashMap<>());

  /** Metadata statements that change nothing (class names of their parsed plans). */
  private static final Set<String> METADATA_STATEMENTS = Set.of(
      "ShowTables", "ShowTablesExtended", "ShowNamespaces", "ShowColumns", "ShowViews",
      "ShowFunctions", "ShowTableProperties", "ShowPartitions", "ShowCreateTable",
      "ShowCurrentNamespace", "ShowCurrentNamespaceCommand", "ShowCatalogs", "ShowCatalogsCommand",
      "DescribeRelation", "DescribeColumn", "DescribeNamespace", "DescribeFunction",
      "DescribeQueryCommand", "SetCatalogAndNamespace", "SetNamespaceCommand", "SetCatalogCommand",
      "SetCommand", "ResetCommand", "RefreshTable",
      // the same statements as Spark 4 parses some of them for the session catalog
      "ShowNamespacesCommand", "ShowTablesCommand", "ShowColumnsCommand", "ShowViewsCommand",
      "ShowFunctionsCommand", "ShowTablePropertiesCommand", "ShowPartitionsCommand",
      "ShowCreateTableCommand", "DescribeTableCommand", "DescribeColumnCommand",
      "DescribeDatabaseCommand", "DescribeFunctionCommand");

  private static final Set<String> TABLE_FUNCTIONS = Set.of(
      "range", "explode", "explode_outer", "inline", "inline_outer", "posexplode",
      "posexplode_outer", "stack", "json_tuple");

  private static final Set<String> FORBIDDEN_FUNCTIONS = Set.of(
      "reflect", "java_method", "try_reflect");

  private static final String PLAN_PACKAGE = "org.apache.spark.sql.catalyst.plans.logical.";
  private static final String ANALYSIS_PACKAGE = "org.apache.spark.sql.catalyst.analysis.";

  /** Let {@code session} (the server's own, which registers tables) run any statement. */
  public static void allowWrites(SparkSession session) {
    EXEMPT.put(session, Boolean.TRUE);
  }

  @Override
  public BoxedUnit apply(SparkSessionExtensions extensions) {
    extensions.injectParser(
        new AbstractFunction2<SparkSession, ParserInterface, ParserInterface>() {
          @Override
          public ParserInterface apply(SparkSession session, ParserInterface delegate) {
            return new ReadOnlyParser(session, delegate);
          }
        });
    return BoxedUnit.UNIT;
  }

  /** Refused: one message that says why and what is allowed. */
  public static final class ReadOnlyViolation extends UnsupportedOperationException {
    private static final long serialVersionUID = 1L;

    ReadOnlyViolation(String what) {
      super("lakejobs serve is read-only: " + what
          + " (allowed: SELECT over the catalog's tables, SHOW, DESCRIBE, USE, SET)");
    }
  }

  static final class ReadOnlyParser implements ParserInterface {
    private final SparkSession session;
    private final ParserInterface delegate;

    ReadOnlyParser(SparkSession session, ParserInterface delegate) {
      this.session = session;
      this.delegate = delegate;
    }

    @Override
    public LogicalPlan parsePlan(String sqlText) throws ParseException {
      return checked(delegate.parsePlan(sqlText));
    }

    @Override
    public LogicalPlan parsePlanWithParameters(String sqlText, ParameterContext parameters)
        throws ParseException {
      return checked(delegate.parsePlanWithParameters(sqlText, parameters));
    }

    @Override
    public Expression parseExpression(String sqlText) throws ParseException {
      return delegate.parseExpression(sqlText);
    }

    @Override
    public TableIdentifier parseTableIdentifier(String sqlText) throws ParseException {
      return delegate.parseTableIdentifier(sqlText);
    }

    @Override
    public FunctionIdentifier parseFunctionIdentifier(String sqlText) throws ParseException {
      return delegate.parseFunctionIdentifier(sqlText);
    }

    @Override
    public Seq<String> parseMultipartIdentifier(String sqlText) throws ParseException {
      return delegate.parseMultipartIdentifier(sqlText);
    }

    // View texts are parsed with parseQuery when a view is read: not a client's statement.
    @Override
    public LogicalPlan parseQuery(String sqlText) throws ParseException {
      return delegate.parseQuery(sqlText);
    }

    @Override
    public StructType parseRoutineParam(String sqlText) throws ParseException {
      return delegate.parseRoutineParam(sqlText);
    }

    @Override
    public StructType parseTableSchema(String sqlText) throws ParseException {
      return delegate.parseTableSchema(sqlText);
    }

    @Override
    public DataType parseDataType(String sqlText) throws ParseException {
      return delegate.parseDataType(sqlText);
    }

    private LogicalPlan checked(LogicalPlan plan) {
      if (EXEMPT.containsKey(session)) {
        return plan;
      }
      if (METADATA_STATEMENTS.contains(plan.getClass().getSimpleName())) {
        for (LogicalPlan child : list(plan.children())) {
          checkQuery(child);
        }
      } else {
        checkQuery(plan);
      }
      return plan;
    }

    private void checkQuery(LogicalPlan node) {
      String type = node.getClass().getName();
      String name = node.getClass().getSimpleName();
      if (node instanceof Command
          || name.endsWith("Statement")
          || name.startsWith("ExecuteImmediate")
          || !(type.startsWith(PLAN_PACKAGE) || type.startsWith(ANALYSIS_PACKAGE))) {
        throw new ReadOnlyViolation(name + " is not allowed");
      }
      if (node instanceof UnresolvedRelation) {
        checkTableName(list(((UnresolvedRelation) node).multipartIdentifier()));
      } else if (node instanceof UnresolvedTableOrView) {
        checkTableName(list(((UnresolvedTableOrView) node).multipartIdentifier()));
      } else if (node instanceof UnresolvedTableValuedFunction) {
        java.util.List<String> parts = list(((UnresolvedTableValuedFunction) node).name());
        String function = parts.get(parts.size() - 1).toLowerCase(Locale.ROOT);
        if (!TABLE_FUNCTIONS.contains(function)) {
          throw new ReadOnlyViolation("the table function " + function + " is not allowed");
        }
      }
      for (Expression expression : list(node.expressions())) {
        checkExpression(expression);
      }
      for (LogicalPlan child : list(node.children())) {
        checkQuery(child);
      }
    }

    private void checkExpression(Expression expression) {
      if (expression instanceof UnresolvedFunction) {
        java.util.List<String> parts = list(((UnresolvedFunction) expression).nameParts());
        String function = parts.get(parts.size() - 1).toLowerCase(Locale.ROOT);
        if (FORBIDDEN_FUNCTIONS.contains(function)) {
          throw new ReadOnlyViolation("the function " + function + " is not allowed");
        }
      }
      if (expression instanceof PlanExpression) {
        Object subquery = ((PlanExpression<?>) expression).plan();
        if (subquery instanceof LogicalPlan) {
          checkQuery((LogicalPlan) subquery);
        }
      }
      for (Expression child : list(expression.children())) {
        checkExpression(child);
      }
    }

    /** `db.table` of an existing database only: `text.`/path``, `delta.`/path`` are file reads. */
    private void checkTableName(java.util.List<String> parts) {
      String shown = String.join(".", parts);
      for (String part : parts) {
        if (part.contains("/") || part.contains(":")) {
          throw new ReadOnlyViolation("reading files by path (" + shown + ") is not allowed");
        }
      }
      if (parts.size() == 2 && !session.catalog().databaseExists(parts.get(0))) {
        throw new ReadOnlyViolation(
            "reading " + shown + " is not allowed: " + parts.get(0) + " is not a database");
      }
    }
  }

  private static <T> java.util.List<T> list(Seq<T> seq) {
    return CollectionConverters.asJava(seq);
  }
}
