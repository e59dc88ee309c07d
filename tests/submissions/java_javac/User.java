import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.nio.channels.DatagramChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Tweeter user: reads commands on stdin, asks the tracker, and passes tweets round logical rings.
 *
 * Usage: java User TRACKER_IP TRACKER_PORT
 *
 * All the work happens in one thread, a loop over a Selector: datagrams, timers and typed lines
 * are handled as they come, so the user keeps forwarding other users' tweets while it waits for
 * the tracker or for the keyboard. A second thread only reads stdin (a Selector cannot watch it)
 * and hands the lines over. Commands run one at a time, in the order typed.
 *
 * After register the user owns three UDP sockets on its IPv4 address:
 *   p1  requests to the tracker and their answers;
 *   p2  ring-in: setups, tweets and teardowns from peers, ring changes from the tracker;
 *   p3  ring-out: tweets, setups and teardowns go out from here (their acks come back here).
 * Before register it talks to the tracker from a socket on any free port.
 */
public class User {
    static final long TRACKER_TIMEOUT_MS = 250; // then 500, 1000, 2000, 4000: 5 tries
    static final int TRACKER_TRIES = 5;
    static final long RING_TIMEOUT_MS = 200;    // setup and teardown: 4 tries, then the peer is gone
    static final int RING_TRIES = 4;
    static final long ROUND_TIMEOUT_MS = 500;   // a tweet not back by then is sent round again
    static final long RETURN_TIMEOUT_MS = 4000; // a tweet not back by then is ended anyway
    static final long BUSY_PATIENCE_MS = 10000; // how long a command refused as "busy" is retried
    static final long BUSY_FIRST_PAUSE_MS = 50;
    static final long BUSY_MAX_PAUSE_MS = 800;
    static final int REMEMBERED = 1024;         // ring requests and tweet rounds kept for de-duplication

    /** The syntax of every command, for the usage errors. */
    private static final Map<String, String> USAGE = new LinkedHashMap<>();
    static {
        USAGE.put("register", "register @handle IPv4 port1 port2 port3");
        USAGE.put("query", "query handles");
        USAGE.put("follow", "follow @follower @followed");
        USAGE.put("drop", "drop @follower @followed");
        USAGE.put("tweet", "tweet @handle \"text\"");
        USAGE.put("end-tweet", "end-tweet @handle");
        USAGE.put("exit", "exit @handle");
    }
    private static final Map<String, Integer> WORDS = Map.of("register", 6, "query", 2, "follow", 3,
            "drop", 3, "end-tweet", 2, "exit", 2);
    private static final Pattern TWEET_LINE = Pattern.compile("tweet\\s+(\\S+)\\s+\"(.*)\"\\s*"); // text may hold quotes

    private record Peer(String handle, InetSocketAddress at) {
    }

    /** What one follower holds of my ring, as I set it up: its address, its neighbours. */
    private record Holding(InetSocketAddress at, String left, String right, InetSocketAddress rightAt) {
    }

    /** What I hold of another user's ring, as a follower in it. */
    private record RingState(String left, String right, InetSocketAddress rightAt) {
    }

    /** A request waiting for its answer; sent again on a timeout that doubles each time. */
    private static final class Pending {
        final long id;
        final String data;
        final DatagramChannel via;
        final InetSocketAddress to;
        final Consumer<Wire.Message> onReply;
        final Runnable onGiveUp;
        long timeout;
        int triesLeft;

        Pending(long id, String data, DatagramChannel via, InetSocketAddress to, Consumer<Wire.Message> onReply,
                Runnable onGiveUp, long timeout, int tries) {
            this.id = id;
            this.data = data;
            this.via = via;
            this.to = to;
            this.onReply = onReply;
            this.onGiveUp = onGiveUp;
            this.timeout = timeout;
            this.triesLeft = tries - 1;
        }
    }

    private record Timer(long at, long order, Runnable action) {
    }

    /** Setups (or teardowns) sent and not yet acknowledged, and what waits for them all. */
    private static final class Flight {
        int count;
        List<Runnable> waiting = new ArrayList<>();
    }

    /** A request refused as "bad" by this user (answered FAILURE with the reason). */
    private static final class BadRequest extends Exception {
        BadRequest(String reason) {
            super(reason);
        }
    }

    private final InetSocketAddress tracker;
    private final Selector selector;
    private final PriorityQueue<Timer> timers = new PriorityQueue<>(
            Comparator.comparingLong(Timer::at).thenComparingLong(Timer::order));
    private long timerOrder;
    private final Map<Long, Pending> pending = new HashMap<>();
    private long nextId = Wire.firstId();
    private boolean done;

    // the console: the reader thread fills `typed`; the loop moves the lines to `lines`
    private final ConcurrentLinkedQueue<String> typed = new ConcurrentLinkedQueue<>();
    private volatile boolean stdinEnded;
    private boolean stdinOpen = true;
    private final ArrayDeque<String> lines = new ArrayDeque<>();
    private boolean running; // a command is in progress

    // talking to the tracker
    private DatagramChannel ephemeral; // before register
    private String me;                 // my handle, once registered
    private DatagramChannel toTracker; // p1
    private DatagramChannel ringIn;    // p2
    private DatagramChannel ringOut;   // p3

    // my own ring, as the tweeter
    private List<Peer> ring = new ArrayList<>(); // my followers in ring (alphabetical) order
    private boolean hasRing;                     // a ring exists once I have tweeted
    private final Map<String, Holding> holders = new HashMap<>();
    private long version = -1;                   // of the follower list I last used
    private final Map<String, Flight> flights = Map.of("setup", new Flight(), "teardown", new Flight());
    private long nextRound = Wire.firstId();
    private long round;
    private boolean roundOpen;
    private String roundData;
    private String roundText;
    private long roundSentAt;

    // other users' rings, as a follower
    private final Map<String, RingState> rings = new HashMap<>();
    private final Map<String, Long> lastRingId = new HashMap<>(); // newest setup/teardown applied, per tweeter
    private final Map<String, String> answered = Wire.bounded(REMEMBERED); // "ip:port#id" -> my answer
    private final Set<String> printed = Collections.newSetFromMap(Wire.bounded(REMEMBERED)); // "@t#round"

    User(InetSocketAddress tracker) throws IOException {
        this.tracker = tracker;
        this.selector = Selector.open();
    }

    public static void main(String[] args) throws IOException {
        if (args.length != 2 || !Wire.isIpv4(args[0]) || Wire.port(args[1]) < 0) {
            System.err.println("usage: java User TRACKER_IPv4 TRACKER_PORT");
            System.exit(2);
        }
        new User(Wire.address(args[0], Wire.port(args[1]))).run();
        System.exit(0);
    }

    static long now() {
        return System.nanoTime() / 1_000_000;
    }

    // --- the event loop -------------------------------------------------------------------------

    void run() throws IOException {
        Wire.say("user: tracker at " + Wire.show(tracker));
        ephemeral = open(new InetSocketAddress("0.0.0.0", 0));
        startReadingStdin();
        while (!done) {
            Timer next = timers.peek();
            long wait = next == null ? 0 : next.at() - now();
            if (next == null) {
                selector.select();
            } else if (wait > 0) {
                selector.select(wait);
            } else {
                selector.selectNow();
            }
            List<SelectionKey> ready = new ArrayList<>(selector.selectedKeys());
            selector.selectedKeys().clear();
            for (SelectionKey key : ready) {
                if (key.isValid()) { // an earlier handler may have closed its channel
                    ((Runnable) key.attachment()).run();
                }
            }
            takeTypedLines();
            runDueTimers();
            nextCommand();
        }
    }

    /** The one other thread: blocking reads of stdin, each line handed to the loop. */
    private void startReadingStdin() {
        Thread reader = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
                String line;
                while ((line = in.readLine()) != null) {
                    typed.add(line);
                    selector.wakeup();
                }
            } catch (IOException e) { // a closed terminal: the same as end of input
            }
            stdinEnded = true;
            selector.wakeup();
        }, "stdin");
        reader.setDaemon(true); // must not keep the program alive after exit
        reader.start();
    }

    private void takeTypedLines() {
        boolean ended = stdinEnded; // read first: every line typed before the end is then queued
        String line;
        while ((line = typed.poll()) != null) {
            lines.add(line);
        }
        stdinOpen = !ended;
    }

    private void after(long ms, Runnable action) {
        timers.add(new Timer(now() + ms, timerOrder++, action));
    }

    private void runDueTimers() {
        long now = now();
        while (!timers.isEmpty() && timers.peek().at() <= now) {
            timers.poll().action().run();
        }
    }

    /** A bound, non-blocking UDP socket whose datagrams are taken as answers to my requests. */
    private DatagramChannel open(InetSocketAddress at) throws IOException {
        DatagramChannel channel = DatagramChannel.open(StandardProtocolFamily.INET);
        try {
            channel.bind(at);
            channel.configureBlocking(false);
            channel.register(selector, SelectionKey.OP_READ, (Runnable) () -> onAnswers(channel));
        } catch (IOException e) {
            channel.close();
            throw e;
        }
        return channel;
    }

    private static void close(DatagramChannel channel) {
        try {
            channel.close();
        } catch (IOException e) { // closing a UDP socket does not fail in practice
        }
    }

    // --- the console ----------------------------------------------------------------------------

    /** Start queued commands until one has to wait; leave once stdin is done and nothing is left. */
    private void nextCommand() {
        while (!running && !lines.isEmpty() && !done) {
            command(lines.poll());
        }
        if (!running && lines.isEmpty() && !stdinOpen && !done) {
            Wire.trace("stdin closed: leaving");
            done = true;
        }
    }

    /** A command's result line; the next command may start. */
    private void finish(String line) {
        Wire.say(line);
        running = false;
    }

    private static void usageError(String problem, String usage) {
        Wire.say("error: " + problem + "; usage: " + usage);
    }

    /** Check the shape of a typed line and start its command. */
    private void command(String line) {
        String trimmed = line.strip();
        if (trimmed.isEmpty()) {
            return;
        }
        String[] words = trimmed.split("\\s+");
        String name = words[0];
        String[] args;
        if (!USAGE.containsKey(name)) {
            usageError("unknown command '" + Wire.clip(name) + "'", String.join(" | ", USAGE.values()));
            return;
        } else if (name.equals("tweet")) {
            Matcher match = TWEET_LINE.matcher(trimmed);
            if (!match.matches()) {
                usageError("the tweet text must follow the handle, in double quotes", USAGE.get(name));
                return;
            }
            args = new String[] {match.group(1), match.group(2)};
        } else if (words.length != WORDS.get(name) || name.equals("query") && !words[1].equals("handles")) {
            usageError(name.equals("query") ? "did you mean 'query handles'?"
                    : name + " takes " + (WORDS.get(name) - 1) + " argument(s)", USAGE.get(name));
            return;
        } else {
            args = Arrays.copyOfRange(words, 1, words.length);
        }
        running = true;
        String problem = localProblem(name, args);
        if (problem != null) {
            finish((name.equals("query") ? "query handles" : name) + ": FAILURE " + problem);
            return;
        }
        switch (name) {
            case "register" -> register(args[0], args[1], Arrays.copyOfRange(args, 2, 5));
            case "query" -> query();
            case "follow" -> ask("follow", args[0] + " " + args[1], result("follow", args[0] + " follows " + args[1]));
            case "drop" -> ask("drop", args[0] + " " + args[1], result("drop", args[0] + " dropped " + args[1]));
            case "tweet" -> tweet(args[0], args[1]);
            case "end-tweet" -> endTweet();
            case "exit" -> ask("exit", args[0], this::exitAnswered);
        }
    }

    /** Why a command naming its user fails before anything is sent, or null. */
    private String localProblem(String name, String[] args) {
        if (name.equals("register") || name.equals("query")) {
            return null;
        }
        int handles = name.equals("follow") || name.equals("drop") ? 2 : 1;
        for (int i = 0; i < handles; i++) {
            if (!Wire.isHandle(args[i])) {
                return "invalid handle " + Wire.clip(args[i]) + " (@ and 1 to 15 letters)";
            }
        }
        if (me == null) {
            return "not registered";
        }
        if (!args[0].equals(me)) {
            return "not your handle: " + args[0] + " (this user is " + me + ")";
        }
        return null;
    }

    // --- requests -------------------------------------------------------------------------------

    /** Send a request (with a fresh id) and keep it until it is answered or given up. */
    private void request(DatagramChannel via, InetSocketAddress to, String op, String args,
                         Consumer<Wire.Message> onReply, Runnable onGiveUp, long timeout, int tries) {
        long id = nextId++;
        String data = op + " " + id + (args.isEmpty() ? "" : " " + args);
        Pending request = new Pending(id, data, via, to, onReply, onGiveUp, timeout, tries);
        pending.put(id, request);
        Wire.send(via, data, to);
        after(timeout, () -> retry(request));
    }

    private void retry(Pending request) {
        if (pending.get(request.id) != request) {
            return; // answered meanwhile
        }
        if (request.triesLeft == 0) {
            pending.remove(request.id);
            request.onGiveUp.run();
            return;
        }
        request.triesLeft--;
        request.timeout *= 2;
        Wire.send(request.via, request.data, request.to);
        after(request.timeout, () -> retry(request));
    }

    /** Datagrams on p1, p3 and the ephemeral socket: answers to my requests. */
    private void onAnswers(DatagramChannel channel) {
        Wire.Received received;
        while (channel.isOpen() && (received = Wire.receive(channel)) != null) {
            Wire.Message message = Wire.Message.parse(received.text());
            if (message == null || !message.isReply()) {
                Wire.trace("dropped: not an answer (this socket takes only answers)");
                continue;
            }
            Pending request = pending.remove(message.id);
            if (request == null) {
                Wire.trace("late or repeated answer " + message.id + " ignored");
            } else {
                request.onReply.accept(message);
            }
        }
    }

    /** A request to the tracker, asked again (new id, growing pause) while the tracker answers
     * "busy": so two tweets typed at the same moment at two users both go out, one after the other. */
    private final class Ask {
        final String op;
        final String args;
        final DatagramChannel via;
        final Consumer<Wire.Message> onAnswer; // gets null if the tracker never answers
        final long started = now();
        long pause = BUSY_FIRST_PAUSE_MS;

        Ask(String op, String args, DatagramChannel via, Consumer<Wire.Message> onAnswer) {
            this.op = op;
            this.args = args;
            this.via = via;
            this.onAnswer = onAnswer;
        }

        void send() {
            request(via, tracker, op, args, this::answered, () -> onAnswer.accept(null), TRACKER_TIMEOUT_MS, TRACKER_TRIES);
        }

        void answered(Wire.Message reply) {
            if (reply.op.equals("busy") && now() + pause - started < BUSY_PATIENCE_MS) {
                Wire.trace("tracker busy: asking again in " + pause + " ms");
                after(pause, this::send);
                pause = Math.min(2 * pause, BUSY_MAX_PAUSE_MS);
            } else {
                onAnswer.accept(reply);
            }
        }
    }

    private void ask(String op, String args, Consumer<Wire.Message> onAnswer) {
        new Ask(op, args, me != null ? toTracker : ephemeral, onAnswer).send();
    }

    private static boolean ok(Wire.Message reply) {
        return reply != null && reply.op.equals("ok");
    }

    /** The reason to print after FAILURE. */
    private static String reason(Wire.Message reply) {
        if (reply == null) {
            return "no answer from tracker";
        }
        return reply.rest.isBlank() ? "tracker gave no reason" : Wire.clip(reply.rest.strip());
    }

    /** An answer handler that prints the result line of a one-step command. */
    private Consumer<Wire.Message> result(String label, String success) {
        return reply -> finish(ok(reply) ? (label + ": SUCCESS " + success).strip() : label + ": FAILURE " + reason(reply));
    }

    // --- the commands ---------------------------------------------------------------------------

    private void register(String handle, String ip, String[] portWords) {
        String problem = registrationProblem(handle, ip, portWords);
        if (problem != null) {
            finish("register: FAILURE " + problem);
            return;
        }
        List<DatagramChannel> sockets = new ArrayList<>();
        for (String word : portWords) {
            try {
                sockets.add(open(Wire.address(ip, Wire.port(word))));
            } catch (IOException e) {
                sockets.forEach(User::close);
                finish("register: FAILURE cannot bind " + ip + ":" + word + ": " + e.getMessage());
                return;
            }
        }
        new Ask("register", handle + " " + ip + " " + String.join(" ", portWords), sockets.get(0),
                reply -> registered(reply, handle, sockets)).send();
    }

    private String registrationProblem(String handle, String ip, String[] portWords) {
        if (me != null) {
            return "already registered as " + me;
        }
        if (!Wire.isHandle(handle)) {
            return "invalid handle " + Wire.clip(handle) + " (@ and 1 to 15 letters)";
        }
        if (!Wire.isIpv4(ip)) {
            return "invalid IPv4 address " + Wire.clip(ip);
        }
        for (String word : portWords) {
            if (Wire.port(word) < 0) {
                return "invalid port " + Wire.clip(word) + " (1-65535)";
            }
        }
        int p1 = Wire.port(portWords[0]), p2 = Wire.port(portWords[1]), p3 = Wire.port(portWords[2]);
        if (p1 == p2 || p2 == p3 || p1 == p3) {
            return "the three ports must differ";
        }
        return null;
    }

    private void registered(Wire.Message reply, String handle, List<DatagramChannel> sockets) {
        if (!ok(reply)) {
            sockets.forEach(User::close);
            finish("register: FAILURE " + reason(reply));
            return;
        }
        me = handle;
        toTracker = sockets.get(0);
        ringIn = sockets.get(1);
        ringOut = sockets.get(2);
        ringIn.keyFor(selector).attach((Runnable) this::onRingIn);
        close(ephemeral);
        finish("register: SUCCESS " + handle);
    }

    private void query() {
        ask("query", "", reply -> {
            if (!ok(reply)) {
                finish("query handles: FAILURE " + reason(reply));
                return;
            }
            String[] handles = reply.words();
            for (String handle : handles) {
                if (!Wire.isHandle(handle)) {
                    finish("query handles: FAILURE malformed answer from tracker");
                    return;
                }
            }
            finish("query handles: SUCCESS " + handles.length + (handles.length == 0 ? "" : " " + String.join(" ", handles)));
        });
    }

    private void tweet(String handle, String text) {
        String problem = Wire.textProblem(text);
        if (problem != null) {
            finish("tweet: FAILURE " + problem);
            return;
        }
        ask("tweet", handle + " " + text, reply -> tweetAnswered(reply, text));
    }

    /** The tracker gave the followers: set up the ring, then send the tweet round it. The tweet
     * command is over once the automatic end-tweet is answered. */
    private void tweetAnswered(Wire.Message reply, String text) {
        if (!ok(reply)) {
            finish("tweet: FAILURE " + reason(reply));
            return;
        }
        String[] words = reply.words();
        long listVersion = words.length > 0 ? Wire.number(words[0]) : -1;
        List<Peer> followers = listVersion < 0 ? null : peers(words, 1);
        if (followers == null) { // the tracker clears the tweet after its timeout
            finish("tweet: FAILURE malformed answer from tracker");
            return;
        }
        StringBuilder line = new StringBuilder("tweet: SUCCESS " + followers.size() + " followers");
        for (Peer follower : followers) {
            line.append(' ').append(follower.handle());
        }
        Wire.say(line.toString());
        version = Math.max(version, listVersion);
        setUpRing(followers);
        afterAll("setup", () -> sendRound(text));
    }

    private void endTweet() {
        ask("end-tweet", me, result("end-tweet", ""));
    }

    /** The tracker took me out of the other rings: tear mine down, then confirm. */
    private void exitAnswered(Wire.Message reply) {
        if (!ok(reply)) {
            finish("exit: FAILURE " + reason(reply));
            return;
        }
        for (String handle : new ArrayList<>(holders.keySet())) {
            sendTeardown(handle);
        }
        afterAll("teardown", () -> ask("exit-complete", me, this::exitCompleted));
    }

    private void exitCompleted(Wire.Message reply) {
        if (!ok(reply)) {
            finish("exit: FAILURE " + reason(reply));
            return;
        }
        finish("exit: SUCCESS exit-complete");
        done = true;
    }

    /** "@f ip port" triples from words[start] on, or null if they are malformed. */
    private static List<Peer> peers(String[] words, int start) {
        if ((words.length - start) % 3 != 0) {
            return null;
        }
        List<Peer> peers = new ArrayList<>();
        for (int i = start; i < words.length; i += 3) {
            if (!Wire.isHandle(words[i]) || !Wire.isIpv4(words[i + 1]) || Wire.port(words[i + 2]) < 0) {
                return null;
            }
            peers.add(new Peer(words[i], Wire.address(words[i + 1], Wire.port(words[i + 2]))));
        }
        return peers;
    }

    // --- my ring, as the tweeter ----------------------------------------------------------------

    /** Make every follower hold its neighbours in the ring me, f1, ..., fn; tear down the others.
     * Only followers whose neighbours change get a setup, so an unchanged ring costs nothing. */
    private void setUpRing(List<Peer> followers) {
        ring = followers;
        hasRing = true;
        List<Peer> members = new ArrayList<>();
        members.add(new Peer(me, ringAddress()));
        members.addAll(followers);
        Map<String, Holding> wanted = new LinkedHashMap<>();
        for (int i = 1; i < members.size(); i++) {
            Peer right = members.get((i + 1) % members.size());
            wanted.put(members.get(i).handle(),
                    new Holding(members.get(i).at(), members.get(i - 1).handle(), right.handle(), right.at()));
        }
        for (String handle : new ArrayList<>(holders.keySet())) {
            if (!wanted.containsKey(handle)) {
                sendTeardown(handle);
            }
        }
        wanted.forEach((handle, holding) -> {
            if (!holding.equals(holders.get(handle))) {
                sendSetup(handle, holding);
            }
        });
    }

    /** My ring-in address as the others reach it: the IPv4 I registered and p2. */
    private InetSocketAddress ringAddress() {
        try {
            return (InetSocketAddress) ringIn.getLocalAddress();
        } catch (IOException e) {
            throw new IllegalStateException("ring-in socket closed", e);
        }
    }

    private void sendSetup(String handle, Holding holding) {
        holders.put(handle, holding);
        String args = me + " " + holding.left() + " " + holding.right() + " "
                + holding.rightAt().getAddress().getHostAddress() + " " + holding.rightAt().getPort();
        ringUpdate(handle, holding.at(), "setup", args, () -> {
            if (holding.equals(holders.get(handle))) {
                holders.remove(handle); // we cannot know what it holds: set it up again next time
            }
        });
    }

    private void sendTeardown(String handle) {
        ringUpdate(handle, holders.remove(handle).at(), "teardown", me, () -> { });
    }

    /** Send a setup or teardown, counted until it is acknowledged or given up. */
    private void ringUpdate(String handle, InetSocketAddress at, String op, String args, Runnable onGiveUp) {
        Flight flight = flights.get(op);
        flight.count++;
        request(ringOut, at, op, args, reply -> landed(flight), () -> {
            Wire.trace(handle + " did not acknowledge " + op);
            onGiveUp.run();
            landed(flight);
        }, RING_TIMEOUT_MS, RING_TRIES);
    }

    private void landed(Flight flight) {
        if (--flight.count == 0) {
            List<Runnable> waiting = flight.waiting;
            flight.waiting = new ArrayList<>();
            waiting.forEach(Runnable::run);
        }
    }

    /** Run `then` once every setup (before a tweet) or teardown (before exit-complete) sent has
     * been acknowledged or given up. */
    private void afterAll(String op, Runnable then) {
        Flight flight = flights.get(op);
        if (flight.count == 0) {
            then.run();
        } else {
            flight.waiting.add(then);
        }
    }

    /** Send the tweet to f1. The ring acknowledges it end to end: a round not back in time is
     * sent round again with the same number (so nobody prints it twice), and ended after 4 s. */
    private void sendRound(String text) {
        round = nextRound++;
        roundOpen = true;
        roundText = text;
        if (ring.isEmpty()) {
            roundReturned();
            return;
        }
        roundData = "pass " + me + " " + me + " " + round + " " + text;
        roundSentAt = now();
        Wire.send(ringOut, roundData, ring.get(0).at());
        long number = round;
        after(ROUND_TIMEOUT_MS, () -> sendRoundAgain(number, ROUND_TIMEOUT_MS));
        after(RETURN_TIMEOUT_MS, () -> {
            if (roundOpen && number == round) {
                roundOpen = false;
                Wire.trace("my tweet did not come back within " + RETURN_TIMEOUT_MS / 1000 + " s: ending it");
                endTweet();
            }
        });
    }

    private void sendRoundAgain(long number, long pause) {
        if (roundOpen && number == round && !ring.isEmpty()) {
            Wire.trace("my tweet is not back after " + (now() - roundSentAt) + " ms: sending it round again");
            Wire.send(ringOut, roundData, ring.get(0).at());
            after(2 * pause, () -> sendRoundAgain(number, 2 * pause));
        }
    }

    private void roundReturned() {
        roundOpen = false;
        if (!ring.isEmpty()) {
            Wire.trace("ring round trip " + (now() - roundSentAt) + " ms through " + ring.size() + " followers");
        }
        Wire.say(me + " tweet returned: \"" + roundText + "\"");
        endTweet();
    }

    // --- ring-in: tweets and ring requests ------------------------------------------------------

    private void onRingIn() {
        Wire.Received received;
        while (ringIn.isOpen() && (received = Wire.receive(ringIn)) != null) {
            if (received.text().startsWith("pass ")) {
                onTweet(received.text());
            } else {
                onRingRequest(received);
            }
        }
    }

    /** A tweet passing round a ring: mine coming back, or one to pass to my right neighbour. */
    private void onTweet(String text) {
        String[] fields = Wire.split(text, 5);
        if (fields.length != 5 || !Wire.isHandle(fields[1]) || !Wire.isHandle(fields[2])
                || Wire.number(fields[3]) < 0 || Wire.textProblem(fields[4]) != null) {
            Wire.trace("dropped: malformed tweet");
            return;
        }
        String tweeter = fields[1], from = fields[2], body = fields[4];
        long number = Wire.number(fields[3]);
        if (tweeter.equals(me)) {
            if (roundOpen && number == round) {
                roundReturned();
            } else {
                Wire.trace("round " + number + " of my tweets is not the one out: ignored");
            }
            return;
        }
        RingState state = rings.get(tweeter);
        if (state == null) {
            Wire.trace("dropped: a tweet of " + tweeter + ", whose ring I am not in");
            return;
        }
        // pass every copy on (a copy means it was lost further round), but print each round once
        Wire.send(ringOut, "pass " + tweeter + " " + me + " " + number + " " + body, state.rightAt());
        if (printed.add(tweeter + "#" + number)) {
            Wire.say(me + " received tweet from " + tweeter + " via " + from + ": \"" + body + "\"");
        } else {
            Wire.trace("round " + number + " of " + tweeter + " again: passed on, not printed again");
        }
    }

    /** A setup, teardown or ring change: applied once, every copy acknowledged. */
    private void onRingRequest(Wire.Received received) {
        Wire.Message message = Wire.Message.parse(received.text());
        if (message == null || message.isReply()) {
            Wire.trace("dropped: not a request this socket takes");
            return;
        }
        String key = Wire.show(received.from()) + "#" + message.id;
        String answer = answered.get(key);
        if (answer == null) {
            try {
                String[] words = message.words();
                switch (message.op) {
                    case "setup" -> onSetup(words, message.id);
                    case "teardown" -> onTeardown(words, message.id);
                    case "ring" -> onRingChanged(words);
                    default -> throw new BadRequest("unknown op " + Wire.clip(message.op));
                }
                answer = "ok " + message.id;
            } catch (BadRequest bad) {
                answer = "fail " + message.id + " " + bad.getMessage();
            }
            answered.put(key, answer);
        } else {
            Wire.trace("repeated request: acknowledged again, not applied again");
        }
        Wire.send(ringIn, answer, received.from());
    }

    /** setup @tweeter @left @right ip port: my place in the tweeter's ring. */
    private void onSetup(String[] words, long id) throws BadRequest {
        if (words.length != 5 || !Wire.isHandle(words[0]) || !Wire.isHandle(words[1]) || !Wire.isHandle(words[2])
                || !Wire.isIpv4(words[3]) || Wire.port(words[4]) < 0) {
            throw new BadRequest("malformed setup");
        }
        String tweeter = words[0];
        if (tweeter.equals(me)) {
            throw new BadRequest("I am the tweeter of my own ring, not a follower in it");
        }
        if (isStale(tweeter, id)) {
            return;
        }
        rings.put(tweeter, new RingState(words[1], words[2], Wire.address(words[3], Wire.port(words[4]))));
        Wire.say(me + " ring of " + tweeter + ": left " + words[1] + " right " + words[2]);
    }

    private void onTeardown(String[] words, long id) throws BadRequest {
        if (words.length != 1 || !Wire.isHandle(words[0])) {
            throw new BadRequest("malformed teardown");
        }
        if (!isStale(words[0], id) && rings.remove(words[0]) != null) {
            Wire.say(me + " ring of " + words[0] + ": torn down");
        }
    }

    /** A setup or teardown overtaken by a newer one of the same tweeter (a late retry) is ignored. */
    private boolean isStale(String tweeter, long id) {
        if (id < lastRingId.getOrDefault(tweeter, -1L)) {
            Wire.trace("older ring message of " + tweeter + " ignored");
            return true;
        }
        lastRingId.put(tweeter, id);
        return false;
    }

    /** ring @owner version followers...: the tracker's new follower list for my ring. */
    private void onRingChanged(String[] words) throws BadRequest {
        List<Peer> followers = words.length >= 2 ? peers(words, 2) : null;
        if (followers == null || !Wire.isHandle(words[0]) || Wire.number(words[1]) < 0) {
            throw new BadRequest("malformed ring change");
        }
        if (!words[0].equals(me)) {
            throw new BadRequest("not my ring");
        }
        long listVersion = Wire.number(words[1]);
        if (listVersion <= version) {
            Wire.trace("follower list version " + listVersion + " is not newer than " + version + ": ignored");
            return;
        }
        version = listVersion;
        if (hasRing) {
            setUpRing(followers);
        }
    }
}
