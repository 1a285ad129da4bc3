// Independent RFC 4998 evidence-record check with Bouncy Castle 1.72 (org.bouncycastle.tsp.ers).
//
//   java -cp CLASSES:bcprov.jar:bcpkix.jar:bcutil.jar ErsCheck verify --ers FILE.ers --data FILE [--data FILE ...]
//        [--ca ROOT.pem ...]
//   java -cp ... ErsCheck generate --n N --index I --out FILE.ers [--runs R (5)] [--warmups W (2)]
//
// verify: prints "OK" (exit 0) when the record covers the data (several --data: one ERSDataGroup, RFC 4998 §4.2), the last time-stamp token's signature holds, every
// archive time-stamp token in every chain verifies with its own signer certificate and, with --ca, every signer
// certificate chains (PKIX, no revocation, at the token's genTime) to one of the given CAs; else "FAIL: reason" (exit 1).
// generate: hashes N objects (8-byte big-endian index) into one archive time-stamp answered by an in-process TSA,
// prints "bc_generate_seconds <median of R runs after W warm-ups> n=N" (tree building and per-object reduced hash
// trees only: key generation and the TSA signature are excluded) and writes object I's evidence record to --out.
// Usage errors exit 2.

import java.io.FileInputStream;
import java.io.InputStream;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.Security;
import java.security.cert.CertPath;
import java.security.cert.CertPathBuilder;
import java.security.cert.CertPathValidator;
import java.security.cert.CertStore;
import java.security.cert.CertificateFactory;
import java.security.cert.CollectionCertStoreParameters;
import java.security.cert.PKIXBuilderParameters;
import java.security.cert.PKIXCertPathBuilderResult;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509CertSelector;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Date;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.nist.NISTObjectIdentifiers;
import org.bouncycastle.asn1.tsp.ArchiveTimeStamp;
import org.bouncycastle.asn1.tsp.ArchiveTimeStampChain;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.AlgorithmIdentifier;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaCertStore;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.cms.SignerInformationVerifier;
import org.bouncycastle.cms.jcajce.JcaSimpleSignerInfoGeneratorBuilder;
import org.bouncycastle.cms.jcajce.JcaSimpleSignerInfoVerifierBuilder;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.operator.DigestCalculator;
import org.bouncycastle.operator.DigestCalculatorProvider;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.operator.jcajce.JcaDigestCalculatorProviderBuilder;
import org.bouncycastle.tsp.TSPAlgorithms;
import org.bouncycastle.tsp.TimeStampRequest;
import org.bouncycastle.tsp.TimeStampRequestGenerator;
import org.bouncycastle.tsp.TimeStampResponse;
import org.bouncycastle.tsp.TimeStampResponseGenerator;
import org.bouncycastle.tsp.TimeStampToken;
import org.bouncycastle.tsp.TimeStampTokenGenerator;
import org.bouncycastle.tsp.ers.ERSArchiveTimeStamp;
import org.bouncycastle.tsp.ers.ERSArchiveTimeStampGenerator;
import org.bouncycastle.tsp.ers.ERSByteData;
import org.bouncycastle.tsp.ers.ERSData;
import org.bouncycastle.tsp.ers.ERSDataGroup;
import org.bouncycastle.tsp.ers.ERSEvidenceRecord;
import org.bouncycastle.tsp.ers.ERSEvidenceRecordGenerator;

public class ErsCheck {
    private static final JcaX509CertificateConverter CONVERTER = new JcaX509CertificateConverter().setProvider("BC");

    public static void main(String[] args) {
        Security.addProvider(new BouncyCastleProvider());
        if (args.length == 0) {
            usage();
        }
        Map<String, List<String>> opts = parse(Arrays.copyOfRange(args, 1, args.length));
        try {
            if (args[0].equals("verify")) {
                verify(one(opts, "ers"), opts.getOrDefault("data", List.of()), opts.getOrDefault("ca", List.of()));
                System.out.println("OK");
            } else if (args[0].equals("verify-each")) {
                verifyEach(one(opts, "jobs"));
            } else if (args[0].equals("generate")) {
                int runs = opts.containsKey("runs") ? Integer.parseInt(one(opts, "runs")) : 5;
                int warmups = opts.containsKey("warmups") ? Integer.parseInt(one(opts, "warmups")) : 2;
                generate(Integer.parseInt(one(opts, "n")), Integer.parseInt(one(opts, "index")), one(opts, "out"),
                        runs, warmups);
            } else {
                usage();
            }
        } catch (Exception e) {
            System.out.println("FAIL: " + e.getClass().getSimpleName() + ": " + e.getMessage());
            System.exit(1);
        }
        System.exit(0);
    }

    private static void usage() {
        System.err.println("usage: ErsCheck verify --ers FILE --data FILE [--data FILE ...] [--ca ROOT.pem ...]\n"
                + "       ErsCheck verify-each --jobs FILE   (a line of tab-separated verify options per job)\n"
                + "       ErsCheck generate --n N --index I --out FILE [--runs R] [--warmups W]");
        System.exit(2);
    }

    private static Map<String, List<String>> parse(String[] args) {
        Map<String, List<String>> opts = new HashMap<>();
        for (int i = 0; i < args.length; i += 2) {
            if (!args[i].startsWith("--") || i + 1 >= args.length) {
                usage();
            }
            opts.computeIfAbsent(args[i].substring(2), k -> new ArrayList<>()).add(args[i + 1]);
        }
        return opts;
    }

    private static String one(Map<String, List<String>> opts, String name) {
        List<String> values = opts.get(name);
        if (values == null || values.size() != 1) {
            usage();
        }
        return values.get(0);
    }

    /** Each line of ``jobsPath`` is one verify's options, tab-separated; prints OK or FAIL: reason per line, in
     *  order. One JVM for many records: starting Java and Bouncy Castle costs more than a verification. */
    static void verifyEach(String jobsPath) throws Exception {
        for (String line : Files.readAllLines(Paths.get(jobsPath))) {
            Map<String, List<String>> job = parse(line.split("\t"));
            try {
                verify(one(job, "ers"), job.getOrDefault("data", List.of()), job.getOrDefault("ca", List.of()));
                System.out.println("OK");
            } catch (Exception e) {
                System.out.println(("FAIL: " + e.getClass().getSimpleName() + ": " + e.getMessage())
                        .replace('\n', ' '));
            }
        }
    }

    /** Throws with a reason unless the record, every token in it and (with CAs) every signer's chain hold. */
    static void verify(String ersPath, List<String> dataPaths, List<String> caPaths) throws Exception {
        DigestCalculatorProvider digests = new JcaDigestCalculatorProviderBuilder().build();
        ERSEvidenceRecord er = new ERSEvidenceRecord(Files.readAllBytes(Paths.get(ersPath)), digests);
        if (dataPaths.isEmpty()) {
            usage();
        }
        List<ERSData> members = new ArrayList<>();
        for (String path : dataPaths) {
            members.add(new ERSByteData(Files.readAllBytes(Paths.get(path))));
        }
        er.validatePresent(members.size() == 1 ? members.get(0) : new ERSDataGroup(members), new Date());
        X509CertificateHolder last = er.getSigningCertificate();
        if (last == null) {
            throw new Exception("last archive time-stamp token carries no signer certificate");
        }
        er.validate(new JcaSimpleSignerInfoVerifierBuilder().setProvider("BC").build(CONVERTER.getCertificate(last)));

        Set<TrustAnchor> anchors = new HashSet<>();
        CertificateFactory cf = CertificateFactory.getInstance("X.509");
        for (String path : caPaths) {
            try (InputStream in = new FileInputStream(path)) {
                for (java.security.cert.Certificate c : cf.generateCertificates(in)) {
                    anchors.add(new TrustAnchor((X509Certificate) c, null));
                }
            }
        }
        if (!caPaths.isEmpty() && anchors.isEmpty()) {
            throw new Exception("no certificate in the --ca files");
        }

        int chainNo = 0;
        int checked = 0;
        for (ArchiveTimeStampChain chain : er.toASN1Structure().getArchiveTimeStampSequence().getArchiveTimeStampChains()) {
            int atsNo = 0;
            for (ArchiveTimeStamp ats : chain.getArchiveTimestamps()) {
                String where = "chain " + chainNo + " ATS " + atsNo + ": ";
                TimeStampToken token = new TimeStampToken(ats.getTimeStamp());
                @SuppressWarnings("unchecked")
                Collection<X509CertificateHolder> matches = token.getCertificates().getMatches(token.getSID());
                if (matches.isEmpty()) {
                    throw new Exception(where + "token carries no signer certificate");
                }
                X509Certificate signer = CONVERTER.getCertificate(matches.iterator().next());
                SignerInformationVerifier verifier = new JcaSimpleSignerInfoVerifierBuilder().setProvider("BC").build(signer);
                try {
                    token.validate(verifier);
                } catch (Exception e) {
                    throw new Exception(where + "token signature: " + e.getMessage(), e);
                }
                if (!anchors.isEmpty()) {
                    try {
                        checkChain(signer, token, anchors);
                    } catch (Exception e) {
                        throw new Exception(where + "signer " + signer.getSubjectX500Principal() + " does not chain to a --ca: "
                                + e.getMessage(), e);
                    }
                }
                atsNo++;
                checked++;
            }
            chainNo++;
        }
        if (checked == 0) {
            throw new Exception("evidence record holds no archive time-stamp");
        }
    }

    /** PKIX path from the token's signer to one of the anchors, intermediates from the token, at its genTime. */
    private static void checkChain(X509Certificate signer, TimeStampToken token, Set<TrustAnchor> anchors) throws Exception {
        List<X509Certificate> pool = new ArrayList<>();
        @SuppressWarnings("unchecked")
        Collection<X509CertificateHolder> all = token.getCertificates().getMatches(null);
        for (X509CertificateHolder holder : all) {
            pool.add(CONVERTER.getCertificate(holder));
        }
        pool.add(signer);
        CertStore store = CertStore.getInstance("Collection", new CollectionCertStoreParameters(pool));
        Date at = token.getTimeStampInfo().getGenTime();

        X509CertSelector target = new X509CertSelector();
        target.setCertificate(signer);
        PKIXBuilderParameters build = new PKIXBuilderParameters(anchors, target);
        build.addCertStore(store);
        build.setRevocationEnabled(false);
        build.setDate(at);
        CertPath path = ((PKIXCertPathBuilderResult) CertPathBuilder.getInstance("PKIX").build(build)).getCertPath();

        PKIXParameters params = new PKIXParameters(anchors);
        params.setRevocationEnabled(false);
        params.setDate(at);
        CertPathValidator.getInstance("PKIX").validate(path, params);
    }

    /** Builds one archive time-stamp over n objects, times the ER building, writes object index's record. */
    static void generate(int n, int index, String out, int runs, int warmups) throws Exception {
        if (n < 1 || index < 0 || index >= n) {
            throw new IllegalArgumentException("need n >= 1 and 0 <= index < n");
        }
        DigestCalculatorProvider digests = new JcaDigestCalculatorProviderBuilder().build();
        AlgorithmIdentifier sha256 = new AlgorithmIdentifier(NISTObjectIdentifiers.id_sha256);

        KeyPairGenerator kpg = KeyPairGenerator.getInstance("RSA", "BC");
        kpg.initialize(2048);
        KeyPair keys = kpg.generateKeyPair();
        long now = System.currentTimeMillis();
        X500Name name = new X500Name("CN=ErsCheck test TSA");
        JcaX509v3CertificateBuilder cb = new JcaX509v3CertificateBuilder(name, BigInteger.ONE,
                new Date(now - 3600_000L), new Date(now + 86400_000L), name, keys.getPublic());
        cb.addExtension(Extension.extendedKeyUsage, true, new ExtendedKeyUsage(KeyPurposeId.id_kp_timeStamping));
        cb.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
        X509CertificateHolder cert = cb.build(new JcaContentSignerBuilder("SHA256withRSA").setProvider("BC").build(keys.getPrivate()));
        TimeStampTokenGenerator tokens = new TimeStampTokenGenerator(
                new JcaSimpleSignerInfoGeneratorBuilder().setProvider("BC").build("SHA256withRSA", keys.getPrivate(),
                        CONVERTER.getCertificate(cert)),
                digests.get(sha256), new ASN1ObjectIdentifier("1.2.3.4.1"));
        tokens.addCertificates(new JcaCertStore(List.of(cert)));
        TimeStampResponseGenerator responder = new TimeStampResponseGenerator(tokens, TSPAlgorithms.ALLOWED);

        double[] times = new double[runs];
        List<ERSArchiveTimeStamp> result = null;
        BigInteger serial = BigInteger.ONE;
        for (int run = -warmups; run < times.length; run++) {
            List<ERSData> data = new ArrayList<>(n);  // fresh objects each run: ERSByteData caches its hash
            for (int i = 0; i < n; i++) {
                data.add(new ERSByteData(ByteBuffer.allocate(8).putLong(i).array()));
            }
            DigestCalculator digest = digests.get(sha256);
            TimeStampRequestGenerator requests = new TimeStampRequestGenerator();
            requests.setCertReq(true);

            long t0 = System.nanoTime();
            ERSArchiveTimeStampGenerator generator = new ERSArchiveTimeStampGenerator(digest);
            generator.addAllData(data);
            TimeStampRequest request = generator.generateTimeStampRequest(requests);
            long t1 = System.nanoTime();
            serial = serial.add(BigInteger.ONE);
            TimeStampResponse response = new TimeStampResponse(
                    responder.generate(request, serial, new Date()).getEncoded());  // TSA signature: not timed
            long t2 = System.nanoTime();
            result = generator.generateArchiveTimeStamps(response);
            long t3 = System.nanoTime();
            if (result.size() != n) {
                throw new Exception("expected " + n + " archive time-stamps, got " + result.size());
            }
            if (run >= 0) {
                times[run] = ((t1 - t0) + (t3 - t2)) / 1e9;
            }
        }
        Arrays.sort(times);
        System.out.printf("bc_generate_seconds %.6f n=%d%n", times[times.length / 2], n);

        ERSEvidenceRecord record = new ERSEvidenceRecordGenerator(digests).generate(result.get(index));
        record.validatePresent(new ERSByteData(ByteBuffer.allocate(8).putLong(index).array()), new Date());
        Files.write(Paths.get(out), record.getEncoded());
    }
}
