import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.nio.channels.DatagramChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The Tweeter tracker: keeps the registered users and their followers, and answers users over UDP.
 *
 * Usage: java Tracker PORT
 *
 * One thread: a loop that waits (Selector) for a datagram or the next timeout, answers the
 * datagram and handles the timeouts. Concurrency policy: between a tweet and its end-tweet every
 * command that could change a ring (register, follow, drop, tweet, exit) is answered "busy", and
 * the user asks again a little later; query and end-tweet are always answered. A tweet that is
 * never ended (its tweeter died) is cleared after 5 s, so the tracker cannot be blocked for ever.
 */
public class Tracker {
    static final long TWEET_TIMEOUT_MS = 5000;   // an unended tweet is cleared after this
    static final long EXIT_TIMEOUT_MS = 10000;   // an exit never completed is finished after this
    static final long NOTICE_TIMEOUT_MS = 200;   // ring_changed notices: first wait for the ack,
    static final int NOTICE_TRIES = 4;           // doubling each time (0.2 + 0.4 + 0.8 + 1.6 s)
    static final int MAX_USERS = 1024;           // so that a follower list fits in one datagram
    static final int MAX_REQUEST = 4096;         // characters; a real request is much shorter
    static final int ANSWERS_KEPT = 1024;        // answers remembered for repeated requests

    /** One registered user. */
    private static final class Member {
        final String handle;
        final String ip;
        final int[] ports; // [to the tracker, ring-in, ring-out]
        final TreeSet<String> followers = new TreeSet<>(); // sorted: it is the ring order
        long version;           // grows with every change of followers, so users can drop stale notices
        long exitingSince = -1; // when it sent exit (-1: not exiting)

        Member(String handle, String ip, int[] ports) {
            this.handle = handle;
            this.ip = ip;
            this.ports = ports;
        }

        InetSocketAddress trackerAddress() {
            return Wire.address(ip, ports[0]);
        }

        InetSocketAddress ringIn() {
            return Wire.address(ip, ports[1]);
        }
    }

    /** A ring_changed notice sent to a ring's owner, re-sent until it is acknowledged. */
    private static final class Notice {
        final long id;
        final String owner;
        final String data;
        final InetSocketAddress to;
        long timeout = NOTICE_TIMEOUT_MS;
        int triesLeft = NOTICE_TRIES - 1;
        long deadline;

        Notice(long id, String owner, String data, InetSocketAddress to, long now) {
            this.id = id;
            this.owner = owner;
            this.data = data;
            this.to = to;
            this.deadline = now + timeout;
        }
    }

    /** A request answered FAILURE (or busy); thrown before any state has changed. */
    private static final class Reject extends Exception {
        final boolean busy;

        Reject(String reason) {
            this(reason, false);
        }

        Reject(String reason, boolean busy) {
            super(reason);
            this.busy = busy;
        }
    }

    private final DatagramChannel channel;
    private final Map<String, Member> users = new TreeMap<>(); // sorted, for query handles
    private String tweeter;     // whose tweet is in progress (null: none)
    private long tweetStarted;
    private final Map<String, String> answers = Wire.bounded(ANSWERS_KEPT); // "ip:port#id" -> answer
    private final Map<String, Notice> notices = new HashMap<>(); // by owner: the newest one only
    private final List<Notice> toNotify = new ArrayList<>();     // made by the request being handled
    private long nextId = Wire.firstId();

    Tracker(DatagramChannel channel) {
        this.channel = channel;
    }

    static long now() {
        return System.nanoTime() / 1_000_000;
    }

    public static void main(String[] args) {
        int port = args.length == 1 ? Wire.port(args[0]) : -1;
        if (port < 0) {
            System.err.println("usage: java Tracker PORT");
            System.exit(2);
        }
        try {
            DatagramChannel channel = DatagramChannel.open(StandardProtocolFamily.INET);
            try {
                channel.bind(new InetSocketAddress("0.0.0.0", port));
            } catch (IOException e) {
                Wire.say("tracker: cannot bind 0.0.0.0:" + port + ": " + e.getMessage());
                System.exit(1);
            }
            Wire.say("tracker: listening on 0.0.0.0:" + ((InetSocketAddress) channel.getLocalAddress()).getPort());
            new Tracker(channel).serve();
        } catch (IOException e) {
            Wire.say("tracker: " + e.getMessage());
            System.exit(1);
        }
    }

    /** The loop: sleep until a datagram arrives or a timeout is due. */
    void serve() throws IOException {
        Selector selector = Selector.open();
        channel.configureBlocking(false);
        channel.register(selector, SelectionKey.OP_READ);
        while (true) {
            long deadline = nextDeadline();
            long wait = deadline - now();
            if (deadline == Long.MAX_VALUE) {
                selector.select();
            } else if (wait > 0) {
                selector.select(wait);
            } else {
                selector.selectNow();
            }
            selector.selectedKeys().clear();
            Wire.Received received;
            while ((received = Wire.receive(channel)) != null) {
                handle(received.text(), received.from());
            }
            tick();
        }
    }

    // --- requests -------------------------------------------------------------------------------

    private void handle(String text, InetSocketAddress from) {
        if (text.length() > MAX_REQUEST) {
            Wire.trace("dropped: datagram too large");
            return;
        }
        Wire.Message message = Wire.Message.parse(text);
        if (message == null) {
            Wire.trace("dropped: not a request (op and id expected)");
            return;
        }
        if (message.isReply()) {
            acknowledged(message.id);
            return;
        }
        if (message.op.equals("query")) { // changes nothing: answered afresh every time
            StringBuilder answer = new StringBuilder("ok " + message.id);
            for (String handle : users.keySet()) {
                answer.append(' ').append(handle);
            }
            Wire.send(channel, answer.toString(), from);
            return;
        }
        // A repeated request (our answer was lost) gets the same answer, without doing it twice.
        String key = Wire.show(from) + "#" + message.id;
        String answer = answers.get(key);
        if (answer != null) {
            Wire.trace("repeated request " + message.id + ": same answer again");
            Wire.send(channel, answer, from);
            return;
        }
        toNotify.clear();
        try {
            String fields = apply(message, from);
            answer = "ok " + message.id + (fields.isEmpty() ? "" : " " + fields);
        } catch (Reject reject) { // nothing was changed, so there is nobody to notify
            answer = (reject.busy ? "busy " : "fail ") + message.id + " " + reject.getMessage();
        }
        answers.put(key, answer);
        Wire.send(channel, answer, from);
        for (Notice notice : toNotify) {
            Wire.send(channel, notice.data, notice.to);
        }
    }

    /** Check and carry out one request: the fields of its SUCCESS answer, or Reject. */
    private String apply(Wire.Message message, InetSocketAddress from) throws Reject {
        String[] words = message.words();
        switch (message.op) {
            case "register":
                return register(words, from);
            case "follow":
                return follow(words, from);
            case "drop":
                return drop(words, from);
            case "tweet":
                return tweet(Wire.split(message.rest, 2), from);
            case "end-tweet":
                return endTweet(words, from);
            case "exit":
                return exit(words, from);
            case "exit-complete":
                return exitComplete(words, from);
            default:
                throw new Reject("unknown op " + Wire.clip(message.op));
        }
    }

    private String register(String[] words, InetSocketAddress from) throws Reject {
        if (words.length != 5) {
            throw new Reject("register takes a handle, an IPv4 address and three ports");
        }
        String handle = checkedHandle(words[0]);
        String ip = words[1];
        if (!Wire.isIpv4(ip)) {
            throw new Reject("invalid IPv4 address " + Wire.clip(ip));
        }
        int[] ports = new int[3];
        for (int i = 0; i < 3; i++) {
            ports[i] = Wire.port(words[2 + i]);
            if (ports[i] < 0) {
                throw new Reject("invalid port " + Wire.clip(words[2 + i]) + " (1-65535)");
            }
        }
        if (ports[0] == ports[1] || ports[1] == ports[2] || ports[0] == ports[2]) {
            throw new Reject("the three ports must differ");
        }
        notBusy();
        if (users.containsKey(handle)) {
            throw new Reject("duplicate handle " + handle);
        }
        if (!from.equals(Wire.address(ip, ports[0]))) {
            throw new Reject("register must be sent from " + ip + ":" + ports[0]);
        }
        for (Member other : users.values()) {
            if (other.ip.equals(ip)) {
                for (int mine : ports) {
                    for (int theirs : other.ports) {
                        if (mine == theirs) {
                            throw new Reject("ports already registered by " + other.handle);
                        }
                    }
                }
            }
        }
        if (users.size() >= MAX_USERS) {
            throw new Reject("tracker full (" + MAX_USERS + " users)");
        }
        users.put(handle, new Member(handle, ip, ports));
        Wire.say("tracker: registered " + handle + " at " + ip + " ports " + ports[0] + " " + ports[1] + " " + ports[2]);
        return "";
    }

    private String follow(String[] words, InetSocketAddress from) throws Reject {
        Member[] pair = actorAndTarget(words, from);
        Member follower = pair[0], owner = pair[1];
        if (owner.followers.contains(follower.handle)) {
            throw new Reject(follower.handle + " already follows " + owner.handle);
        }
        owner.followers.add(follower.handle);
        ringChanged(owner);
        return "";
    }

    private String drop(String[] words, InetSocketAddress from) throws Reject {
        Member[] pair = actorAndTarget(words, from);
        Member follower = pair[0], owner = pair[1];
        if (!owner.followers.contains(follower.handle)) {
            throw new Reject(follower.handle + " does not follow " + owner.handle);
        }
        owner.followers.remove(follower.handle);
        ringChanged(owner);
        return "";
    }

    /** tweet: the answer is the owner's follower list (its version, then handle ip port each). */
    private String tweet(String[] parts, InetSocketAddress from) throws Reject {
        if (parts.length != 2) {
            throw new Reject("tweet takes a handle and the text");
        }
        Member member = actor(parts[0], from, false);
        String problem = Wire.textProblem(parts[1]);
        if (problem != null) {
            throw new Reject(problem);
        }
        notBusy();
        tweeter = member.handle;
        tweetStarted = now();
        Wire.say("tracker: tweet of " + member.handle + " in progress");
        return member.version + followerList(member);
    }

    private String endTweet(String[] words, InetSocketAddress from) throws Reject {
        Member member = actor(words.length == 1 ? words[0] : null, from, true);
        if (!member.handle.equals(tweeter)) {
            throw new Reject("no tweet of " + member.handle + " in progress");
        }
        tweeter = null;
        Wire.say("tracker: tweet of " + member.handle + " ended");
        return "";
    }

    /** exit: take the user out of every follower list now; it is deleted at exit-complete, once
     * it has torn down its own ring. */
    private String exit(String[] words, InetSocketAddress from) throws Reject {
        Member member = actor(words.length == 1 ? words[0] : null, from, true);
        notBusy();
        if (member.exitingSince < 0) {
            member.exitingSince = now();
            for (Member owner : users.values()) {
                if (owner.followers.remove(member.handle)) {
                    ringChanged(owner);
                }
            }
            Wire.say("tracker: " + member.handle + " is exiting");
        }
        return "";
    }

    private String exitComplete(String[] words, InetSocketAddress from) throws Reject {
        Member member = actor(words.length == 1 ? words[0] : null, from, true);
        if (member.exitingSince < 0) {
            throw new Reject(member.handle + " has not sent exit");
        }
        remove(member.handle);
        Wire.say("tracker: " + member.handle + " exited");
        return "";
    }

    // --- helpers --------------------------------------------------------------------------------

    private static String checkedHandle(String handle) throws Reject {
        if (!Wire.isHandle(handle)) {
            throw new Reject("invalid handle " + (handle == null ? "(missing)" : Wire.clip(handle))
                    + " (@ and 1 to 15 letters)");
        }
        return handle;
    }

    /** The registered user that sent the request: only it may act in its own name. */
    private Member actor(String handle, InetSocketAddress from, boolean exitingOk) throws Reject {
        Member member = users.get(checkedHandle(handle));
        if (member == null) {
            throw new Reject("unknown handle " + handle);
        }
        if (!from.equals(member.trackerAddress())) {
            throw new Reject("not your handle: " + handle + " is registered at " + Wire.show(member.trackerAddress()));
        }
        if (member.exitingSince >= 0 && !exitingOk) {
            throw new Reject(handle + " is exiting");
        }
        return member;
    }

    /** For follow and drop: {the acting user, the user it follows or drops}. */
    private Member[] actorAndTarget(String[] words, InetSocketAddress from) throws Reject {
        if (words.length != 2) {
            throw new Reject("follow and drop take two handles");
        }
        Member follower = actor(words[0], from, false);
        String target = checkedHandle(words[1]);
        notBusy();
        Member owner = users.get(target);
        if (owner == null) {
            throw new Reject("unknown handle " + target);
        }
        if (owner == follower) {
            throw new Reject("cannot follow yourself");
        }
        if (owner.exitingSince >= 0) {
            throw new Reject(target + " is exiting");
        }
        return new Member[] {follower, owner};
    }

    private void notBusy() throws Reject {
        if (tweeter != null) {
            throw new Reject("tracker busy: " + tweeter + " is tweeting", true);
        }
    }

    /** " @f1 ip port @f2 ip port ...": followers in alphabetical order with their ring-in ports. */
    private String followerList(Member owner) {
        StringBuilder list = new StringBuilder();
        for (String handle : owner.followers) {
            Member follower = users.get(handle);
            list.append(' ').append(handle).append(' ').append(follower.ip).append(' ').append(follower.ports[1]);
        }
        return list.toString();
    }

    /** Tell the owner its new follower list; a newer notice replaces an older one still retried. */
    private void ringChanged(Member owner) {
        owner.version++;
        long id = nextId++;
        String data = "ring " + id + " " + owner.handle + " " + owner.version + followerList(owner);
        Notice notice = new Notice(id, owner.handle, data, owner.ringIn(), now());
        notices.put(owner.handle, notice);
        toNotify.add(notice);
    }

    private void acknowledged(long id) {
        for (Iterator<Notice> it = notices.values().iterator(); it.hasNext(); ) {
            if (it.next().id == id) {
                it.remove();
                return;
            }
        }
        Wire.trace("late or unknown reply " + id);
    }

    private void remove(String handle) {
        users.remove(handle);
        notices.remove(handle);
    }

    // --- timeouts -------------------------------------------------------------------------------

    private long nextDeadline() {
        long deadline = Long.MAX_VALUE;
        for (Notice notice : notices.values()) {
            deadline = Math.min(deadline, notice.deadline);
        }
        if (tweeter != null) {
            deadline = Math.min(deadline, tweetStarted + TWEET_TIMEOUT_MS);
        }
        for (Member member : users.values()) {
            if (member.exitingSince >= 0) {
                deadline = Math.min(deadline, member.exitingSince + EXIT_TIMEOUT_MS);
            }
        }
        return deadline;
    }

    /** Clear a stuck tweet or exit, re-send notices not yet acknowledged. */
    private void tick() {
        long now = now();
        if (tweeter != null && now - tweetStarted >= TWEET_TIMEOUT_MS) {
            Wire.say("tracker: tweet of " + tweeter + " not ended after " + TWEET_TIMEOUT_MS / 1000 + " s; cleared");
            tweeter = null;
        }
        for (Member member : new ArrayList<>(users.values())) {
            if (member.exitingSince >= 0 && now - member.exitingSince >= EXIT_TIMEOUT_MS) {
                Wire.say("tracker: " + member.handle + " never completed its exit; removed");
                remove(member.handle);
            }
        }
        for (Iterator<Notice> it = notices.values().iterator(); it.hasNext(); ) {
            Notice notice = it.next();
            if (notice.deadline > now) {
                continue;
            }
            if (notice.triesLeft == 0) {
                Wire.trace(notice.owner + " never acknowledged ring " + notice.id);
                it.remove();
                continue;
            }
            notice.triesLeft--;
            notice.timeout *= 2;
            notice.deadline = now + notice.timeout;
            Wire.send(channel, notice.data, notice.to);
        }
    }
}
